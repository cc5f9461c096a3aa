"""Module arguments for AnsibleModule in tests, on every ansible-core the collection claims (galaxy.yml, meta).

ansible-core 2.19 reads them from ``basic._ANSIBLE_ARGS`` with a serialization profile (``basic._ANSIBLE_PROFILE``)
and ships ``ansible.module_utils.testing.patch_module_args`` for tests; 2.16 to 2.18 read plain JSON bytes from
``basic._ANSIBLE_ARGS`` and have neither the profile nor the helper.
"""
from __future__ import annotations

import contextlib
import json
from typing import Any, Iterator
from unittest import mock

from ansible.module_utils import basic

try:  # ansible-core >= 2.19
    from ansible.module_utils.testing import patch_module_args as _patch_module_args
except ImportError:  # ansible-core 2.16 - 2.18
    _patch_module_args = None


@contextlib.contextmanager
def patch_module_args(args: dict[str, Any] | None = None) -> Iterator[None]:
    """Expose ``args`` to the AnsibleModule instances created within this context."""
    if _patch_module_args is not None:
        with _patch_module_args(args):
            yield
        return
    if not isinstance(args, (dict, type(None))):
        raise TypeError("The `args` arg must be a dict or None.")
    payload = json.dumps({"ANSIBLE_MODULE_ARGS": args or {}}).encode()
    with mock.patch.object(basic, "_ANSIBLE_ARGS", payload):
        yield

# -*- coding: utf-8 -*-
# Copyright: ambari_kafka.mirroring contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""manylinux_platforms: the wheel platform tags a glibc Linux node accepts, for `pip download --platform`.

pip expands only the legacy manylinux2014/2010 tags given to --platform (pip/_internal/utils/compatibility_tags.py,
_get_custom_platforms), not the PEP 600 ones: a node with glibc 2.31 accepts manylinux_2_31 down to manylinux_2_17
(= manylinux2014), and pip has to be told each of them.
"""

from __future__ import annotations

import re

from ansible.errors import AnsibleFilterError

# platform.machine() / ansible_architecture -> the architecture in wheel tags (PEP 599, PEP 600).
_ARCHES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64", "ppc64le": "ppc64le",
           "s390x": "s390x", "armv7l": "armv7l", "i386": "i686", "i686": "i686"}
_OLDEST_GLIBC_MINOR = 17  # manylinux2014, the oldest tag current wheels carry for every architecture above


def manylinux_platforms(glibc_version: str, machine: str) -> list[str]:
    """Newest first: manylinux_2_<minor>_<arch> down to manylinux_2_17, then manylinux2014 (pip adds 2010 and 1)."""
    match = re.fullmatch(r"2\.(\d+)", str(glibc_version).strip())
    if not match:
        raise AnsibleFilterError(f"manylinux_platforms: glibc version {glibc_version!r} is not 2.N; the node needs "
                                 "glibc (musl-based systems such as Alpine are not supported)")
    arch = _ARCHES.get(str(machine).lower())
    if arch is None:
        raise AnsibleFilterError(f"manylinux_platforms: no manylinux wheels exist for the architecture {machine!r} "
                                 f"(supported: {', '.join(sorted(set(_ARCHES.values())))})")
    minor = int(match.group(1))
    if minor < _OLDEST_GLIBC_MINOR:
        raise AnsibleFilterError(f"manylinux_platforms: glibc 2.{minor} is older than 2.{_OLDEST_GLIBC_MINOR}, the "
                                 "oldest that kafka-mirror's dependencies publish wheels for")
    return [f"manylinux_2_{m}_{arch}" for m in range(minor, _OLDEST_GLIBC_MINOR - 1, -1)] + [f"manylinux2014_{arch}"]


class FilterModule:
    def filters(self):
        return {"manylinux_platforms": manylinux_platforms}

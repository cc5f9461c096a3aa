# Copyright: ambari_kafka.mirroring contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Ambari modules' work inside the controller's worker process, when the module would run on the controller.

A module run is a new Python process that imports ansible.module_utils.basic: about 0.6 CPU-s on the lab's machine,
against about 0.05 CPU-s for an action that stays in the worker (bench/README.md, "Fleet scale"). The Ambari modules
talk HTTP to Ambari from wherever they run, and the documented setup runs them on the controller
(`ansible_connection: local` for the ambari_clusters group), so there the action does the module's work itself: the
same argument validation (ModuleArgumentSpecValidator, which AnsibleModule uses), the same run_module over
module_utils, the same result with every no_log value masked. Anything else (another connection, async, a task
environment, which a module process would see and this process would not, become, which runs it as another user)
runs the module as usual.
"""
from __future__ import annotations

from typing import Any, Callable

from ansible import constants as C
from ansible.module_utils.common.arg_spec import ModuleArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values
from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

from ansible_collections.ambari_kafka.mirroring.plugins.module_utils._ambari import run_module


class _Finished(BaseException):  # not an Exception: run_module's `except Exception` must let it through
    def __init__(self, result: dict) -> None:
        super().__init__()
        self.result = result


class _Module:
    """What run_module and the process functions use of AnsibleModule."""

    def __init__(self, name: str, params: dict, check_mode: bool, diff: bool) -> None:
        self._name = name
        self.params = params
        self.check_mode = check_mode
        self._diff = diff
        self.warnings: list[str] = []

    def warn(self, warning: str) -> None:
        self.warnings.append(warning)

    def exit_json(self, **result: Any) -> None:
        raise _Finished(result)

    def fail_json(self, msg: str, **result: Any) -> None:
        raise _Finished({**result, "failed": True, "msg": msg})


class AmbariAction(ActionBase):
    """Subclasses name the module (`module`, its FQCN), its AnsibleModule arguments (`module_spec`) and its work
    (`process`, given to run_module as the module's main() gives it)."""

    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = True  # run as a module then (in_process), as the normal action does
    module: str
    module_spec: Callable[[], dict]
    process: Callable

    def in_process(self) -> bool:
        return (getattr(self._connection, "transport", None) == "local" and not self._task.async_val
                and not self._play_context.become
                and not any(self._task.environment or ()))  # a task without one has [{}]

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        if self.in_process():
            return merge_hash(result, self.run_here(dict(self._task.args)))
        wrap_async = self._task.async_val and not self._connection.has_native_async  # as the normal action
        result = merge_hash(result, self._execute_module(task_vars=task_vars, wrap_async=wrap_async))
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

    def run_here(self, args: dict) -> dict:
        spec = self.module_spec()
        validation = ModuleArgumentSpecValidator(
            spec["argument_spec"], spec.get("mutually_exclusive"), spec.get("required_together"),
            spec.get("required_one_of"), spec.get("required_if"), spec.get("required_by")).validate(args)
        no_log = validation._no_log_values
        if validation.error_messages:  # as AnsibleModule words it
            msg = validation.errors.msg
            if type(validation.errors[0]).__name__ == "UnsupportedError":
                msg = "Unsupported parameters for (%s) module: %s" % (self._task.action, msg)
            shown = {k: "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" if spec["argument_spec"].get(k, {}).get("no_log") else v
                     for k, v in args.items()}  # a value that failed validation may be missing from no_log
            return _masked({"failed": True, "msg": msg, "invocation": {"module_args": shown}}, no_log)
        params = validation.validated_parameters
        module = _Module(self._task.action, params, bool(self._task.check_mode), bool(self._task.diff))
        try:
            run_module(module, type(self).process)
            out = {"failed": True, "msg": "%s ended without a result" % self.module}  # run_module always ends one
        except _Finished as finished:
            out = finished.result
        if module.warnings:
            out["warnings"] = module.warnings
        if "exception" in out and not _tracebacks_shown():
            del out["exception"]  # ansible-core 2.19's fail_json drops it unless DISPLAY_TRACEBACK says otherwise
        out["invocation"] = {"module_args": params}
        return _masked(out, no_log)


def _masked(result: dict, no_log: set) -> dict:
    """remove_values, keeping the top-level booleans and None as AnsibleModule._return_formatted does (on ansible-core
    2.16 to 2.18 remove_values masks a boolean whose text contains a no_log value: `changed` would become a string)."""
    kept = {k: v for k, v in result.items() if isinstance(v, bool) or v is None}
    return {**remove_values(result, no_log), **kept}


def _tracebacks_shown() -> bool:
    """Whether a module's fail_json would return its traceback: always before ansible-core 2.19 (shown with -vvv),
    on 2.19 when DISPLAY_TRACEBACK names error or always."""
    try:
        shown = C.config.get_config_value("DISPLAY_TRACEBACK")
    except Exception:  # noqa: BLE001 (no such setting before 2.19)
        return True
    return bool({"error", "always"} & set(shown or ()))

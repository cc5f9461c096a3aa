"""The Ambari modules' in-process actions (plugins/plugin_utils/ambari_action.py) against the modules themselves: for
the same arguments and the same Ambari answers, the action's result is the module's, no_log values masked alike; and
the action runs in process only where the module would have run on the controller."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from ansible.plugins.action import ActionBase

from ansible_collections.ambari_kafka.mirroring.plugins.action import ambari_cluster_info as info_action
from ansible_collections.ambari_kafka.mirroring.plugins.action import ambari_config as config_action
from ansible_collections.ambari_kafka.mirroring.plugins.modules import ambari_cluster_info, ambari_config

from ..module_args import patch_module_args
from ..stub_http import Reply, Stub, serving

SECRET = "pw-s3cret-4711"


def action(cls, transport="local", async_val=0, environment=None, check_mode=False, diff=False, become=False):
    a = object.__new__(cls.ActionModule)
    a._connection = SimpleNamespace(transport=transport, has_native_async=False, _shell=SimpleNamespace(tmpdir=None))
    a._play_context = SimpleNamespace(become=become)
    a._task = SimpleNamespace(action=cls.ActionModule.module, async_val=async_val,
                              environment=[{}] if environment is None else environment, check_mode=check_mode,
                              diff=diff)
    return a


def module_result(module, args, capsys, check_mode=False, diff=False):
    """What the module prints, run as Ansible runs it (its own exit_json, masking included)."""
    with patch_module_args({**args, "_ansible_check_mode": check_mode, "_ansible_diff": diff,
                            "_ansible_module_name": module.__name__.replace(
                                "ansible_collections.", "").replace(".plugins.modules", "")}):
        with pytest.raises(SystemExit):
            module.main()
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("transport, async_val, environment, become, expected", [
    ("local", 0, [{}], False, True),
    ("ssh", 0, [{}], False, False),  # the module runs where the connection goes
    ("local", 30, [{}], False, False),  # async: the module's own wrapper
    ("local", 0, [{"HTTPS_PROXY": "http://proxy:3128"}], False, False),  # a module process would see it, not this
    ("local", 0, [{}], True, False),  # become: the module runs as another user, with sudo's environment
])
def test_in_process_only_where_the_module_would_run_on_the_controller(transport, async_val, environment, become,
                                                                      expected):
    assert action(info_action, transport, async_val, environment, become=become).in_process() is expected


def test_async_runs_the_module_wrapped_as_the_normal_action_does(monkeypatch):
    a = action(info_action, async_val=30)
    calls = []
    a._execute_module = lambda **kw: calls.append(kw) or {"ansible_job_id": "j1", "started": 1, "finished": 0}
    monkeypatch.setattr(ActionBase, "run", lambda self, tmp=None, task_vars=None: {})
    assert info_action.ActionModule._supports_async is True
    assert a.run(task_vars={})["ansible_job_id"] == "j1"
    assert calls == [{"task_vars": {}, "wrap_async": True}]


@pytest.mark.parametrize("extra", [{"bogus": 1}, {"address": "dns"}, {"timeout": "soon"}])
def test_bad_arguments_give_the_module_s_message(extra, capsys):
    args = {"url": "http://127.0.0.1:1", "password": SECRET, **extra}
    expected = module_result(ambari_cluster_info, args, capsys)
    got = action(info_action).run_here(args)
    assert got["failed"] and got["msg"] == expected["msg"]
    assert got["invocation"]["module_args"]["password"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert SECRET not in json.dumps(got)


def test_an_ambari_error_is_the_module_s_result_with_the_password_masked_even_where_ambari_echoes_it(capsys):
    echo = json.dumps({"status": 500, "message": f"bad credentials {SECRET} for admin"}).encode()
    args = {"url": "", "password": SECRET, "cluster": "c1", "config_type": "kafka-env",
            "properties": {"a": "1"}}
    with serving(Stub(lambda stub: Reply(500, echo))) as stub:
        args["url"] = stub.url
        expected = module_result(ambari_config, args, capsys)
        got = action(config_action).run_here(args)
    assert expected["failed"] and SECRET in echo.decode()
    assert got == expected
    assert SECRET not in json.dumps(got) and "********" in got["msg"]


def test_check_mode_and_diff_reach_the_work_as_the_module_s_flags(capsys):
    answers = {"desired_configs": {"Clusters": {"desired_configs": {"kafka-env": {"tag": "t1", "version": 1}}}},
               "configurations": {"items": [{"type": "kafka-env", "tag": "t1", "version": 1,
                                             "properties": {"a": "0"}}]},
               "host_components": {"items": [{"HostRoles": {"host_name": "wn0", "component_name": "KAFKA_BROKER",
                                                            "state": "STARTED", "stale_configs": False}}]}}

    def answer(stub):
        path = stub.seen[-1].path
        return Reply(200, json.dumps(next((a for k, a in answers.items() if k in path), {})).encode())

    args = {"url": "", "password": SECRET, "cluster": "c1", "config_type": "kafka-env", "properties": {"a": "1"}}
    with serving(Stub(answer)) as stub:
        args["url"] = stub.url
        expected = module_result(ambari_config, args, capsys, check_mode=True, diff=True)
        got = action(config_action, check_mode=True, diff=True).run_here(args)
        writes = [s for s in stub.seen if s.method != "GET"]
    assert expected["changed"] and "diff" in expected and writes == []
    assert got == expected


def test_a_secret_inside_a_boolean_s_text_leaves_the_booleans_alone(capsys):
    """AnsibleModule keeps top-level booleans out of the masking (ansible-core 2.16-2.18 would turn `changed: false`
    into a masked string when a no_log value is part of "False"); so does the action."""
    answers = {"desired_configs": {"Clusters": {"desired_configs": {"kafka-env": {"tag": "t1", "version": 1}}}},
               "configurations": {"items": [{"type": "kafka-env", "tag": "t1", "version": 1,
                                             "properties": {"a": "1", "x": "als"}}]}}

    def answer(stub):
        path = stub.seen[-1].path
        return Reply(200, json.dumps(next((a for k, a in answers.items() if k in path), {})).encode())

    args = {"url": "", "password": SECRET, "cluster": "c1", "config_type": "kafka-env", "properties": {"a": "1"},
            "secret_properties": {"x": "als"}}
    with serving(Stub(answer)) as stub:
        args["url"] = stub.url
        expected = module_result(ambari_config, args, capsys)
        got = action(config_action).run_here(args)
    assert expected["changed"] is False and got["changed"] is False and got.get("failed", False) is False
    assert got == expected

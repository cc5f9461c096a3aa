"""ambari_config and ambari_cluster_info against Ambari's behaviours a lab easily misses (issue 10: items 4, 6, 9,
10, 11, 13): password references, config group lookup, unknown types, managed-block markers, secrets in output,
unknown listeners. The lab follows apache/ambari release-2.6.2 / release-2.7.8; the upstream files are named in
tests/contract/test_api_configs.py beside the lab's own tests of each behaviour."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
import yaml
from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ambari_kafka.mirroring.plugins.modules import ambari_cluster_info, ambari_config

from .conftest import CLUSTER, PASSWORD, running_api
from .test_modules import run

ROOT = Path(__file__).resolve().parents[2]
SECRET = "Hunter2-keystore-pw"
OTHER_SECRET = "Rotated-keystore-pw"
PW_ATTR = {"password": {"ssl.keystore.password": "true"}}


@pytest.fixture(params=["2.7", "2.6"])
def any_api(request, tmp_path):
    with running_api(tmp_path, version=request.param) as api:
        yield api


def stored(api, config_type="kafka-broker"):
    """What the lab holds (plaintext), as opposed to what its API shows."""
    return api.model.config(config_type, api.model.state["desired"][config_type]["tag"])


def with_stored_secret(api):
    """kafka-broker holding ssl.keystore.password as a password (the `password` attribute, as Ambari's UI sets)."""
    _, _, props = api.current("kafka-broker")
    assert api.put_config("kafka-broker", {**props, "ssl.keystore.password": SECRET}, tag="pw",
                          properties_attributes=PW_ATTR).status == 200
    assert api.current("kafka-broker")[2]["ssl.keystore.password"].startswith("SECRET:kafka-broker:")


# --- item 4: password references ---------------------------------------------------------------------------


def test_a_password_property_does_not_break_the_read_back(any_api):
    api = any_api
    with_stored_secret(api)
    result = run(ambari_config, api, config_type="kafka-broker", properties={"num.io.threads": 9})
    assert not result.get("failed"), result["msg"]
    assert result["changed"] and result["changed_properties"] == ["num.io.threads"] and result["version"] == 3
    assert stored(api)["properties"]["ssl.keystore.password"] == SECRET  # the reference kept the stored value
    again = run(ambari_config, api, config_type="kafka-broker", properties={"num.io.threads": 9})
    assert not again["changed"] and again["changed_properties"] == []  # references at v2 and v3: the same secret


def test_secret_properties_on_create_write_once_then_keep(any_api):
    api = any_api
    args = dict(config_type="kafka-broker", secret_properties={"ssl.keystore.password": SECRET})
    checked = run(ambari_config, api, check=True, diff=True, **args)
    assert checked["changed"] and checked["changed_properties"] == ["ssl.keystore.password"]
    first = run(ambari_config, api, diff=True, **args)
    assert first["changed"] and first["diff"] == checked["diff"]
    assert SECRET not in str(first) and "ssl.keystore.password=********" in first["diff"]["after"]
    cfg = stored(api)
    assert cfg["properties"]["ssl.keystore.password"] == SECRET
    assert cfg["properties_attributes"]["password"] == {"ssl.keystore.password": "true"}  # hidden from now on
    again = run(ambari_config, api, **args)
    assert not again["changed"] and again["unverified_secrets"] == ["ssl.keystore.password"]
    rotated = run(ambari_config, api, **{**args, "secret_properties": {"ssl.keystore.password": OTHER_SECRET}})
    assert not rotated["changed"] and stored(api)["properties"]["ssl.keystore.password"] == SECRET


def test_update_password_always_lets_ambari_compare(any_api):
    api = any_api
    with_stored_secret(api)
    args = dict(config_type="kafka-broker", secret_properties={"ssl.keystore.password": SECRET},
                update_password="always")
    checked = run(ambari_config, api, check=True, **args)
    assert checked["changed"] and checked["unverified_secrets"] == ["ssl.keystore.password"]  # cannot know
    same = run(ambari_config, api, **args)
    assert not same.get("failed"), same["msg"]
    assert not same["changed"] and same["version"] == 2 and api.current("kafka-broker")[:2] == ("pw", 2)
    rotated = run(ambari_config, api, **{**args, "secret_properties": {"ssl.keystore.password": OTHER_SECRET}})
    assert rotated["changed"] and rotated["version"] == 3 and OTHER_SECRET not in str(rotated)
    assert stored(api)["properties"]["ssl.keystore.password"] == OTHER_SECRET
    assert not run(ambari_config, api, **{**args, "secret_properties": {"ssl.keystore.password": OTHER_SECRET}})[
        "changed"]


def test_a_stack_password_type_round_trips(any_api):
    api = any_api
    args = dict(config_type="ranger-kafka-policymgr-ssl", create_type=True,
                properties={"xasecure.policymgr.clientssl.keystore": "/etc/ks.jks"},
                secret_properties={"xasecure.policymgr.clientssl.keystore.password": SECRET})
    assert run(ambari_config, api, **args)["changed"]
    assert not run(ambari_config, api, **args)["changed"]
    moved = run(ambari_config, api, **{**args, "properties": {"xasecure.policymgr.clientssl.keystore": "/etc/b.jks"}})
    assert moved["changed"] and moved["changed_properties"] == ["xasecure.policymgr.clientssl.keystore"]
    assert stored(api, "ranger-kafka-policymgr-ssl")["properties"] == {
        "xasecure.policymgr.clientssl.keystore": "/etc/b.jks", "xasecure.policymgr.clientssl.keystore.password": SECRET}


def test_a_config_group_write_carries_passwords_in_plaintext(any_api):
    api = any_api
    args = dict(config_type="kafka-broker", config_group="tls-wn0", hosts=[api.hosts[0]],
                properties={"num.io.threads": "4"}, secret_properties={"ssl.keystore.password": SECRET})
    assert run(ambari_config, api, **args)["changed"]
    assert not run(ambari_config, api, **args)["changed"]  # the override shows a reference: kept (on_create)
    moved = run(ambari_config, api, **{**args, "properties": {"num.io.threads": "5"}})
    assert moved["changed"] and SECRET not in str(moved)
    assert api.model.effective_configs(api.hosts[0])["kafka-broker"]["ssl.keystore.password"] == SECRET
    without = run(ambari_config, api, **{**args, "properties": {"num.io.threads": "6"}, "secret_properties": {}})
    assert without["failed"] and "Ambari returns ssl.keystore.password only as password references" in without["msg"]
    assert api.model.effective_configs(api.hosts[0])["kafka-broker"]["num.io.threads"] == "5"  # nothing written


# --- item 6: config groups are found by name; the tag is checked here -----------------------------------------


def test_a_same_named_group_of_another_service_is_left_alone(any_api):
    api = any_api
    other = {"ConfigGroup": {"cluster_name": CLUSTER, "group_name": "advertise-wn0", "tag": "HDFS",
                             "description": "not ours", "hosts": [], "desired_configs": []}}
    assert api.client.call("POST", f"clusters/{CLUSTER}/config_groups", [other]).status == 201
    args = dict(config_type="kafka-broker", config_group="advertise-wn0", hosts=[api.hosts[0]],
                properties={"advertised.listeners": "PLAINTEXT://10.232.99.10:9092"})
    created = run(ambari_config, api, **args)
    assert created["changed"] and created["previous_hosts"] == []
    groups = {g["tag"]: g for g in api.model.state["config_groups"].values()}
    assert groups["HDFS"]["hosts"] == [] and groups["HDFS"]["description"] == "not ours"
    assert groups["KAFKA"]["hosts"] == [api.hosts[0]] and created["group_id"] == groups["KAFKA"]["id"]
    assert not run(ambari_config, api, **args)["changed"]


# --- item 9: unknown config types and values of the wrong shape --------------------------------------------------


def test_a_type_the_cluster_does_not_have_is_named_with_the_ones_it_has(api):
    result = run(ambari_config, api, config_type="kafka-brokr", properties={"listeners": "PLAINTEXT://0.0.0.0:9092"})
    assert result["failed"]
    assert result["msg"].startswith(f"Config type 'kafka-brokr' does not exist on cluster {CLUSTER} "
                                    "(did you mean 'kafka-broker'?). Its config types: ")
    assert "kafka-broker, kafka-env, kafka-log4j" in result["msg"] and "create_type: true" in result["msg"]
    assert "kafka-brokr" not in api.model.state["configs"]
    grouped = run(ambari_config, api, config_type="kafka-brokr", config_group="g", hosts=[api.hosts[0]],
                  create_type=True, properties={"a": "1"})
    assert grouped["failed"] and "A config group can only override a type the cluster has" in grouped["msg"]
    created = run(ambari_config, api, config_type="kafka-mirror-extra", create_type=True, properties={"a": 1})
    assert created["changed"] and api.current("kafka-mirror-extra")[2] == {"a": "1"}


@pytest.mark.parametrize("option, value", [("properties", {"PLAINTEXT": 9092}), ("properties", ["a", "b"]),
                                           ("secret_properties", {"nested": "x"})])
def test_a_value_that_is_not_a_scalar_is_refused_naming_the_property(api, option, value):
    result = run(ambari_config, api, config_type="kafka-broker", **{option: {"listeners": value}})
    assert result["failed"] and f"{option}.listeners is a {type(value).__name__}" in result["msg"]
    assert "Traceback" not in result["msg"] and api.current("kafka-broker")[:2] == ("version1", 1)


# --- item 10: managed block markers ------------------------------------------------------------------------------


def test_a_marker_without_mark_is_refused(api):
    result = run(ambari_config, api, config_type="kafka-env",
                 blocks=[{"property": "content", "marker": "# ansible advertise IPs", "block": "echo x"}])
    assert result["failed"] and "marker '# ansible advertise IPs' has no {mark}" in result["msg"]
    assert api.current("kafka-env")[:2] == ("version1", 1)


def test_an_orphan_begin_is_named_and_nothing_is_written(api):
    _, _, props = api.current("kafka-env")
    content = props["content"] + "# BEGIN advertise IPs\necho half a block\n"
    api.put_config("kafka-env", {**props, "content": content}, tag="env2")
    lines = content.rstrip("\n").split("\n")
    result = run(ambari_config, api, config_type="kafka-env",
                 blocks=[{"property": "content", "marker": "# {mark} advertise IPs", "block": "echo x"}])
    assert result["failed"] and result["msg"].startswith(
        f"Cannot plan kafka-env on {CLUSTER}: content (managed block '# {{mark}} advertise IPs') has marker line "
        f"'# BEGIN advertise IPs' at line {len(lines) - 1} without its END")
    assert api.current("kafka-env")[:2] == ("env2", 2)


# --- item 11: secrets in output --------------------------------------------------------------------------------


def test_secret_lines_of_existing_content_stay_out_of_result_and_diff(api):
    _, _, props = api.current("kafka-env")
    opts = f'export KAFKA_OPTS="-Djavax.net.ssl.trustStorePassword={SECRET} -Dx=y"\n'
    api.put_config("kafka-env", {**props, "content": props["content"] + opts}, tag="env2")
    result = run(ambari_config, api, diff=True, config_type="kafka-env",
                 blocks=[{"property": "content", "marker": "# {mark} advertise IPs", "block": "echo x"}])
    assert result["changed"] and SECRET not in str(result)
    assert "-Djavax.net.ssl.trustStorePassword=******** -Dx=y" in result["diff"]["before"]


def test_a_jaas_type_is_masked_whole(api):
    content = 'KafkaClient {\n  org.apache.kafka.common.security.plain.PlainLoginModule required\n  user="u";\n};\n'
    result = run(ambari_config, api, diff=True, config_type="kafka_jaas_conf", create_type=True,
                 properties={"content": content})
    assert result["changed"] and result["diff"]["after"] == "content=********\n"
    assert "properties" not in result and "KafkaClient" not in str(result)


def test_properties_that_look_secret_are_warned_about_by_name_only(api):
    result = run(ambari_config, api, config_type="kafka-broker", properties={"ssl.key.password": SECRET})
    assert any("properties.ssl.key.password looks like a secret" in w for w in result["warnings"])
    assert SECRET not in str(result)


def test_secret_properties_are_not_in_the_logged_invocation(api):
    logged = []
    with mock.patch.object(AnsibleModule, "log", lambda self, msg, log_args=None: logged.append((msg, log_args))):
        result = run(ambari_config, api, config_type="kafka-broker",
                     secret_properties={"ssl.keystore.password": SECRET})
    assert result["changed"] and logged
    assert SECRET not in str(logged) and PASSWORD not in str(logged)


def test_no_secret_in_playbook_output_at_vvv_with_diff(api, tmp_path):
    """The module as a user runs it: ansible-playbook -vvv --diff, the secret from the environment."""
    _, _, props = api.current("kafka-env")
    opts = f'export KAFKA_OPTS="-Djavax.net.ssl.trustStorePassword={OTHER_SECRET}"\n'
    api.put_config("kafka-env", {**props, "content": props["content"] + opts}, tag="env2")
    task = {"url": api.client.url, "cluster": CLUSTER}
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "a secret property", "ambari_kafka.mirroring.ambari_config": {
            **task, "config_type": "kafka-broker",
            "secret_properties": {"ssl.keystore.password": "{{ lookup('env', 'KEYSTORE_PASSWORD') }}"}}},
        {"name": "a block beside a secret line", "ambari_kafka.mirroring.ambari_config": {
            **task, "config_type": "kafka-env",
            "blocks": [{"property": "content", "marker": "# {mark} advertise IPs", "block": "echo x"}]}},
        {"name": "a secret block", "ambari_kafka.mirroring.ambari_config": {
            **task, "config_type": "kafka-env", "blocks": [TLS_BLOCK],
            "secret_blocks": {"tls": "export KS_PLAIN={{ lookup('env', 'KEYSTORE_PASSWORD') }}\nexport B=1\n"}}}]}]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play))
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           "AMBARI_PASSWORD": PASSWORD, "KEYSTORE_PASSWORD": SECRET}
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           "-e", f"ansible_python_interpreter={sys.executable}", "-vvv", "--diff",
                           str(tmp_path / "play.yml")], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=600)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    assert "changed=3" in output and "trustStorePassword=********" in output
    assert r"# BEGIN TLS options\n    ********\n    # END TLS options" in output  # the diff, as -vvv prints it
    assert "export B=1" not in output and "KS_PLAIN" not in output
    assert stored(api)["properties"]["ssl.keystore.password"] == SECRET
    for secret in (SECRET, OTHER_SECRET, PASSWORD):
        assert secret not in output


# --- item 13: a listener the cluster does not have ------------------------------------------------------------


def test_an_unknown_listener_is_named_with_the_ones_there_are(api):
    result = run(ambari_cluster_info, api, listener="SASL_SSL")
    assert result["failed"] and result["listeners"] == ["PLAINTEXT"]
    assert result["msg"] == (f"No broker of cluster {CLUSTER} has a listener named SASL_SSL. Its brokers' listeners: "
                             "PLAINTEXT. Set listener to one of them.")
    assert run(ambari_cluster_info, api, listener="plaintext")["bootstrap_servers"].count(":9092") == 3


def test_brokers_without_the_listener_are_left_out_with_a_warning(api):
    run(ambari_config, api, config_type="kafka-broker", config_group="sasl", hosts=[api.hosts[0]],
        properties={"listeners": "PLAINTEXT://localhost:9092,SASL_PLAINTEXT://localhost:9094"})
    result = run(ambari_cluster_info, api, listener="SASL_PLAINTEXT")
    assert result["bootstrap_servers"] == "10.232.99.10:9094"
    assert any(api.hosts[1] in w and api.hosts[2] in w and "SASL_PLAINTEXT" in w for w in result["warnings"])


# --- review of issue 10 -------------------------------------------------------------------------------------

TLS_BLOCK = {"property": "content", "marker": "# {mark} TLS options", "secret": "tls"}
TLS_LINES = f'export KAFKA_OPTS="$KAFKA_OPTS -Dkeystore.pw.file=/etc/pw"\nexport KS_SECRET_VALUE={SECRET}\n'


def test_a_secret_block_stays_out_of_the_logged_invocation_result_and_diff(api):
    """A block's lines through secret_blocks (a no_log option): never logged, masked whole in the diff."""
    logged = []
    args = dict(config_type="kafka-env", blocks=[TLS_BLOCK], secret_blocks={"tls": TLS_LINES})
    with mock.patch.object(AnsibleModule, "log", lambda self, msg, log_args=None: logged.append((msg, log_args))):
        result = run(ambari_config, api, diff=True, **args)
    assert result["changed"] and logged and not result["warnings"]
    for text in (SECRET, "keystore.pw.file"):
        assert text not in str(result) and text not in str(logged)
    assert "    # BEGIN TLS options\n    ********\n    # END TLS options\n" in result["diff"]["after"]
    assert TLS_LINES in api.current("kafka-env")[2]["content"]
    assert not run(ambari_config, api, **args)["changed"]


def test_a_block_whose_secret_is_not_given_and_a_plain_block_that_looks_secret(api):
    missing = run(ambari_config, api, config_type="kafka-env", blocks=[TLS_BLOCK], secret_blocks={"other": "x"})
    assert missing["failed"]
    assert missing["msg"] == "blocks[0].secret is 'tls', which secret_blocks does not have (it has: other)"
    both = run(ambari_config, api, config_type="kafka-env", blocks=[{**TLS_BLOCK, "block": "x"}],
               secret_blocks={"tls": "y"})
    assert both["failed"] and "mutually exclusive: block|secret" in both["msg"]
    plain = run(ambari_config, api, config_type="kafka-env",
                blocks=[{"property": "content", "marker": "# {mark} opts", "block": TLS_LINES}])
    assert plain["changed"] and SECRET not in str(plain)
    assert any("blocks[0] (content) looks like it holds a secret; put its lines in secret_blocks" in w
               for w in plain["warnings"])


def test_a_run_returns_what_changed_not_every_value(api):
    """kafka-env's whole content used to come back on every run (and show at -v); the values are in the diff."""
    block = {"property": "content", "marker": "# {mark} advertise IPs", "block": "echo advertised"}
    result = run(ambari_config, api, config_type="kafka-env", blocks=[block])
    assert result["changed"] and result["changed_properties"] == ["content"] and "properties" not in result
    assert "echo advertised" not in str(result) and "JAVA_HOME" not in str(result)
    shown = run(ambari_config, api, diff=True, config_type="kafka-env", blocks=[{**block, "block": "echo v2"}])
    assert "properties" not in shown and "echo v2" in shown["diff"]["after"] and "kafka_user" not in str(shown)


def test_an_absent_block_in_a_group_without_that_override_changes_nothing(any_api):
    """The group overrides kafka_pid_dir, not content: removing a block there must not copy the cluster's content
    into the group (which would pin it for the group's hosts)."""
    api = any_api
    block = {"property": "content", "marker": "# {mark} advertise IPs", "block": "echo advertised"}
    assert run(ambari_config, api, config_type="kafka-env", blocks=[block])["changed"]
    group = dict(config_type="kafka-env", config_group="env-wn0", hosts=[api.hosts[0]])
    assert run(ambari_config, api, properties={"kafka_pid_dir": "/var/run/k2"}, **group)["changed"]
    absent = run(ambari_config, api, blocks=[{**block, "state": "absent"}], **group)
    assert not absent["changed"] and absent["changed_properties"] == []
    (stored_group,) = api.model.state["config_groups"].values()
    assert "content" not in api.model.config("kafka-env", stored_group["desired_configs"]["kafka-env"])["properties"]
    assert "echo advertised" in api.model.effective_configs(api.hosts[0])["kafka-env"]["content"]
    pinned = run(ambari_config, api, blocks=[{**block, "block": "echo wn0"}], **group)
    assert pinned["changed"] and pinned["changed_properties"] == ["content"]  # present pins it (documented)


def test_moving_hosts_of_a_group_holding_a_password_needs_no_secret(any_api):
    api = any_api
    args = dict(config_type="kafka-broker", config_group="tls-wn0", properties={"num.io.threads": "4"})
    assert run(ambari_config, api, hosts=[api.hosts[0]], secret_properties={"ssl.keystore.password": SECRET},
               **args)["changed"]
    moved = run(ambari_config, api, hosts=api.hosts[:2], **args)
    assert not moved.get("failed"), moved["msg"]
    assert moved["changed"] and moved["changed_properties"] == [] and moved["previous_hosts"] == [api.hosts[0]]
    assert moved["tag"] == moved["previous_tag"]  # the overrides Ambari holds, by type and tag
    for host in api.hosts[:2]:
        assert api.model.effective_configs(host)["kafka-broker"]["ssl.keystore.password"] == SECRET
    changed_value = run(ambari_config, api, hosts=api.hosts[:2], **{**args, "properties": {"num.io.threads": "5"}})
    assert changed_value["failed"] and "Give their values in secret_properties" in changed_value["msg"]


def test_a_block_holding_its_own_marker_is_refused(api):
    result = run(ambari_config, api, config_type="kafka-env", blocks=[
        {"property": "content", "marker": "# {mark} opts", "block": "echo a\n# END opts\necho b"}])
    assert result["failed"] and result["msg"] == (
        f"Cannot plan kafka-env on {CLUSTER}: the block for content (managed block '# {{mark}} opts') holds its own "
        "marker line '# END opts' (its line 2): the next run would take the block to end or begin there. Use another "
        "marker, or leave that line out")
    assert api.current("kafka-env")[:2] == ("version1", 1)


# --- second review of issue 10: secrets inside values --------------------------------------------------------


def test_secrets_inside_values_stay_out_of_the_diff_and_are_warned_about(api):
    """Escaped quotes of a JAAS line echoed from kafka-env, JSON, any secret name: masked in --diff; a property
    whose value holds one is warned about, since `properties` is logged (-vvv, syslog) as any option is."""
    jaas = ('echo "KafkaClient { org.apache.kafka.common.security.plain.PlainLoginModule required username=\\"u\\" '
            'password=\\"hunter2\\"; };" > /etc/kafka/jaas.conf')
    block = run(ambari_config, api, diff=True, config_type="kafka-env",
                blocks=[{"property": "content", "marker": "# {mark} jaas", "block": jaas}])
    assert block["changed"] and 'password=\\"********\\"; };' in block["diff"]["after"]
    assert "hunter2" not in str(block) and any("blocks[0] (content) looks like it holds a secret" in w
                                                for w in block["warnings"])
    props = run(ambari_config, api, diff=True, config_type="kafka-env",
                properties={"opts_json": '{"password": "hunter3"}', "az_line": "export AZURE_STORAGE_KEY=hunter4",
                            "cred_line": "credential=hunter5", "plain": "x=1"})
    assert props["changed"] and "opts_json=" in props["diff"]["after"]
    for secret in ("hunter3", "hunter4", "hunter5"):
        assert secret not in str(props)
    warned = sorted(w.split(" ", 1)[0] for w in props["warnings"] if "looks like a secret" in w)
    assert warned == ["properties.az_line", "properties.cred_line", "properties.opts_json"], props["warnings"]

"""Change computation, normalisation, block editing, masking: pure functions."""
from __future__ import annotations

import pytest

from ansible_collections.ambari_kafka.mirroring.plugins.module_utils._ambari_changes import (
    MASK, SECRET_NAME, ChangeError, apply_block, attributes_for_write, is_reference, looks_secret, mask, normalize,
    password_keys, plan_properties, render, same_value)

SNIPPET = "IP_ADDRESS=$(hostname -i)\necho advertised.listeners=$IP_ADDRESS"
MARKER = "# {mark} advertise IPs"


@pytest.mark.parametrize("value, stored", [
    (True, "true"), (False, "false"), (9092, "9092"), (1.5, "1.5"), ("True", "True"), ("PLAINTEXT://x:1", "PLAINTEXT://x:1"),
    (None, None), ("", ""),
])
def test_normalize_as_ambari_stores(value, stored):
    assert normalize(value) == stored


def test_plan_sets_removes_and_detects_no_change():
    current = {"listeners": "PLAINTEXT://localhost:9092", "auto.create.topics.enable": "false", "x": "1"}
    change = plan_properties(current, {"auto.create.topics.enable": False, "listeners": "PLAINTEXT://localhost:9092"})
    assert not change.changed
    change = plan_properties(current, {"auto.create.topics.enable": True, "x": None, "port": 9092})
    assert change.changed_keys == ["auto.create.topics.enable", "port", "x"]
    assert change.after == {"listeners": "PLAINTEXT://localhost:9092", "auto.create.topics.enable": "true",
                            "port": "9092"}
    assert change.before == current  # the plan never edits its input


def test_block_is_appended_once_then_stable():
    content = "#!/bin/bash\nexport JAVA_HOME=/usr\n"
    once = apply_block(content, SNIPPET, MARKER)
    assert once == content + "# BEGIN advertise IPs\n" + SNIPPET + "\n# END advertise IPs\n"
    assert apply_block(once, SNIPPET, MARKER) == once


def test_block_is_replaced_in_place_and_removed():
    content = "a\n# BEGIN advertise IPs\nold line\n# END advertise IPs\nb\n"
    assert apply_block(content, "new line", MARKER) == "a\n# BEGIN advertise IPs\nnew line\n# END advertise IPs\nb\n"
    assert apply_block(content, "", MARKER, state="absent") == "a\nb\n"
    assert apply_block("a\nb\n", "x", MARKER, state="absent") == "a\nb\n"


def test_block_keeps_a_missing_trailing_newline_and_handles_empty_values():
    assert apply_block("a", "x", MARKER) == "a\n# BEGIN advertise IPs\nx\n# END advertise IPs"
    assert apply_block("", "x", MARKER) == "# BEGIN advertise IPs\nx\n# END advertise IPs\n"


def test_block_insertafter_and_insertbefore():
    content = "one\nexport PATH=x\ntwo\n"
    after = apply_block(content, "x", MARKER, insertafter="^export PATH")
    assert after.splitlines() == ["one", "export PATH=x", "# BEGIN advertise IPs", "x", "# END advertise IPs", "two"]
    before = apply_block(content, "x", MARKER, insertbefore="BOF")
    assert before.splitlines()[0] == "# BEGIN advertise IPs"


def test_plan_with_block_on_content():
    current = {"content": "#!/bin/bash\n", "kafka_user": "kafka"}
    block = {"property": "content", "block": SNIPPET, "marker": MARKER, "state": "present"}
    change = plan_properties(current, {}, [block])
    assert change.changed_keys == ["content"]
    assert not plan_properties(change.after, {}, [block]).changed


@pytest.mark.parametrize("key, value, shown", [
    ("ssl.keystore.password", "hunter2", MASK),
    ("sasl.jaas.config", "org.apache...PlainLoginModule required password=\"x\";", MASK),
    ("ssl.key", "abc", MASK),
    ("listeners", "PLAINTEXT://0.0.0.0:9092", "PLAINTEXT://0.0.0.0:9092"),
    ("anything", "SECRET:kafka-broker:2:ssl.keystore.password", MASK),
    ("keystore.location", "/etc/ks.jks", "/etc/ks.jks"),
])
def test_masking(key, value, shown):
    assert mask(key, value) == shown


def test_masking_lines_inside_multiline_values():
    content = "export JAVA_HOME=/usr\nexport TRUSTSTORE_PASSWORD=s3cret\nAPI_TOKEN: abc\n"
    assert mask("content", content) == f"export JAVA_HOME=/usr\nexport TRUSTSTORE_PASSWORD={MASK}\nAPI_TOKEN: {MASK}\n"


def test_ambari_password_attributes_are_masked_whatever_their_name():
    # Ambari returns every key under `password` as a reference, whatever its value: SecretReference.
    # replacePasswordsWithReferencesForCustomProperties iterates configAttributes.get("password").keySet()
    # (apache/ambari release-2.6.2 and release-2.7.8 ambari-server/src/main/java/org/apache/ambari/server/utils/
    # SecretReference.java).
    keys = password_keys({"password": {"custom.thing": "true", "other": "false"}})
    assert keys == frozenset({"custom.thing", "other"})
    change = plan_properties({"custom.thing": "a"}, {"custom.thing": "b"}, secret_keys=keys)
    diff = change.diff("kafka-broker")
    assert "a" not in diff["before"].split("=")[1] and diff["after"] == f"custom.thing={MASK}\n"


def test_diff_shows_only_changed_keys_and_multiline_values_indented():
    change = plan_properties({"a": "1", "b": "2", "content": "x\ny\n"}, {"a": "3", "content": "x\nz\n"})
    diff = change.diff("hdr")
    assert diff["before"] == "a=1\ncontent:\n    x\n    y\n"
    assert diff["after"] == "a=3\ncontent:\n    x\n    z\n"
    assert render({"a": "1"}, []) == ""


# --- password references (apache/ambari release-2.6.2 and release-2.7.8: utils/SecretReference.java,
# controller/ConfigurationResponse.java, AmbariManagementControllerImpl.updateCluster) ---------------------

REF2 = "SECRET:kafka-broker:2:ssl.keystore.password"
REF5 = "SECRET:kafka-broker:5:ssl.keystore.password"


def test_references_compare_without_their_version():
    assert is_reference(REF2) and not is_reference("SECRET:x") and not is_reference("a:b:c:d")
    assert same_value(REF2, REF5)
    assert not same_value(REF2, "SECRET:kafka-broker:2:ssl.key.password")
    assert not same_value(REF2, "hunter2")


def test_a_reference_read_back_at_another_version_is_no_change():
    change = plan_properties({"ssl.keystore.password": REF2, "a": "1"}, {"ssl.keystore.password": REF5})
    assert not change.changed and change.after["ssl.keystore.password"] == REF2


@pytest.mark.parametrize("update_password, changed, sent", [("on_create", False, REF2), ("always", True, "hunter2")])
def test_plaintext_for_a_reference_follows_update_password(update_password, changed, sent):
    current = {"ssl.keystore.password": REF2, "a": "1"}
    change = plan_properties(current, {}, secrets={"ssl.keystore.password": "hunter2"},
                             update_password=update_password)
    assert change.changed is changed and change.after["ssl.keystore.password"] == sent
    assert change.unverified == frozenset({"ssl.keystore.password"})
    assert "hunter2" not in str(change.diff("h"))


def test_on_create_writes_an_absent_or_empty_secret_and_compares_plaintext():
    for current in ({}, {"ssl.keystore.password": ""}):
        change = plan_properties(current, {}, secrets={"ssl.keystore.password": "hunter2"})
        assert change.changed_keys == ["ssl.keystore.password"] and not change.unverified
        assert change.diff("h")["after"] == f"ssl.keystore.password={MASK}\n"
    stored_plain = {"custom.secret": "hunter2"}  # Ambari does not treat it as a password: comparable
    assert not plan_properties(stored_plain, {}, secrets={"custom.secret": "hunter2"}).changed


def test_a_property_in_both_options_and_non_scalar_values_are_refused():
    with pytest.raises(ChangeError, match="^x given both in properties and in secret_properties"):
        plan_properties({}, {"x": "1"}, secrets={"x": "2"})
    with pytest.raises(ChangeError, match=r"^properties\.listeners is a dict; Ambari stores every property as one"):
        plan_properties({}, {"listeners": {"PLAINTEXT": 9092}})
    with pytest.raises(ChangeError, match=r"^secret_properties\.pw is a list"):
        plan_properties({}, {}, secrets={"pw": ["a"]})


def test_attributes_for_write_mark_secrets_and_references_and_drop_removed_properties():
    attrs = {"final": {"a": "true", "gone": "true"}, "password": {"old": "false"}}
    after = {"a": "1", "old": "SECRET:t:1:old", "new.secret": "x"}
    assert attributes_for_write(attrs, after, {"new.secret": "x"}) == {
        "final": {"a": "true"}, "password": {"old": "true", "new.secret": "true"}}
    assert attributes_for_write({}, {"a": "1"}, {}) == {}


# --- managed blocks: blockinfile's rules (ansible-core lib/ansible/modules/blockinfile.py: the last BEGIN and
# the last END are taken) plus: {mark} required, unbalanced markers refused -----------------------------------


def test_a_marker_without_mark_is_refused():
    with pytest.raises(ChangeError, match=r"marker '# managed' has no \{mark\}"):
        apply_block("a\n", "x", "# managed")
    with pytest.raises(ChangeError, match="spans several lines"):
        apply_block("a\n", "x", "# {mark}\nmore")


def test_the_last_block_is_the_one_managed():
    content = "# BEGIN advertise IPs\none\n# END advertise IPs\nmid\n# BEGIN advertise IPs\ntwo\n# END advertise IPs\n"
    assert apply_block(content, "new", MARKER) == (
        "# BEGIN advertise IPs\none\n# END advertise IPs\nmid\n# BEGIN advertise IPs\nnew\n# END advertise IPs\n")
    assert apply_block(content, "", MARKER, state="absent") == "# BEGIN advertise IPs\none\n# END advertise IPs\nmid\n"


@pytest.mark.parametrize("content, message", [
    ("a\n# BEGIN advertise IPs\nx\nb\n", r"'# BEGIN advertise IPs' at line 2 without its END"),
    ("a\n# BEGIN advertise IPs\nx\n# BEGIN advertise IPs\ny\n# END advertise IPs\n",
     r"'# BEGIN advertise IPs' at line 2 without its END .* before the next BEGIN at line 4"),
    ("a\n# END advertise IPs\n# BEGIN advertise IPs\nx\n# END advertise IPs\n",
     r"'# END advertise IPs' at line 2 without a BEGIN"),
])
def test_unbalanced_markers_are_refused_naming_the_line(content, message):
    with pytest.raises(ChangeError, match=message):
        apply_block(content, "x", MARKER, where="content")
    with pytest.raises(ChangeError, match=r"^content \(managed block '# \{mark\} advertise IPs'\) has marker line"):
        plan_properties({"content": content}, {}, [{"property": "content", "block": "x", "marker": MARKER}])


# --- masking: secrets anywhere in a line, whole JAAS values -------------------------------------------------


@pytest.mark.parametrize("line, shown", [
    ('export KAFKA_OPTS="-Djavax.net.ssl.trustStorePassword=tr5st -Dx=y"',
     f'export KAFKA_OPTS="-Djavax.net.ssl.trustStorePassword={MASK} -Dx=y"'),
    ('sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p4ss";',
     f'sasl.jaas.config={MASK} required username="u" password="{MASK}";'),  # a *jaas* name is a secret's
    ("KafkaServer { org.apache...ScramLoginModule required username='admin' password='adm1n'; };",
     f"KafkaServer {{ org.apache...ScramLoginModule required username='admin' password='{MASK}'; }};"),
    ("export TRUSTSTORE_PASSWORD=s3cret", f"export TRUSTSTORE_PASSWORD={MASK}"),
    ("  api_token : abc123", f"  api_token : {MASK}"),
    ("export JAVA_HOME=/usr/lib/jvm", "export JAVA_HOME=/usr/lib/jvm"),
])
def test_secret_assignments_are_masked_anywhere_in_a_line(line, shown):
    assert mask("content", line) == shown
    assert mask("content", "a=1\n" + line + "\n") == "a=1\n" + shown + "\n"


def test_jaas_types_are_masked_whole():
    content = 'KafkaServer {\n  com.sun.security.auth.module.Krb5LoginModule required\n  keyTab="/etc/k.keytab";\n};\n'
    change = plan_properties({"content": content}, {"content": content.replace("k.keytab", "b.keytab")},
                             whole_values_secret=True)
    assert change.diff("kafka_jaas_conf")["after"] == f"content={MASK}\n"


@pytest.mark.parametrize("option", ["insertafter", "insertbefore"])
def test_a_bad_regex_is_named_whether_or_not_the_block_exists(option):
    for text in ("a\nb\n", "a\n# BEGIN m\nx\n# END m\n"):
        with pytest.raises(ChangeError, match="%s '\\[unclosed' is not a valid regular expression" % option):
            apply_block(text, "x", "# {mark} m", **{option: "[unclosed"})


@pytest.mark.parametrize("line, secret", [
    ("keytool -srcstorepass S1 -deststorepass S2 -keypass S3", ["S1", "S2", "S3"]),
    ("ssl.keystore.password S4", ["S4"]),
    ("run --password S5 --other x", ["S5"]),
    ("curl -u admin:S6 http://h", ["S6"]),
    ("fetch https://user:S7@host/path", ["S7"]),
    ("storepass=S8 passphrase=S9 pwd=S10", ["S8", "S9", "S10"]),
    ("password=ab,cd;ef next", ["ab,cd;ef"]),
    ('export KAFKA_OPTS="-Djavax.net.ssl.trustStorePassword=S11 -Xmx1G"', ["S11"]),
])
def test_secrets_in_command_lines_are_masked_to_the_end_of_their_token(line, secret):
    shown = mask("content", line)
    assert MASK in shown and not any(s in shown for s in secret), shown


def test_masking_leaves_ordinary_lines_alone():
    line = "export KAFKA_HEAP_OPTS=-Xmx1G; listeners=PLAINTEXT://0.0.0.0:9092 log.dirs=/kafka-logs"
    assert mask("content", line) == line


# --- review of issue 10: a block holding its own marker, secret blocks ------------------------------------------


@pytest.mark.parametrize("line", ["# BEGIN m", "# END m", "  # END m  "])
def test_a_block_holding_its_own_marker_line_is_refused(line):
    with pytest.raises(ChangeError) as err:
        apply_block("a\n", f"x\n{line}\ny", "# {mark} m", where="content")
    assert str(err.value).startswith(f"the block for content holds its own marker line {line!r} (its line 2)")
    assert apply_block("a\n", "x # END m\ny", "# {mark} m") == "a\n# BEGIN m\nx # END m\ny\n# END m\n"


def test_secret_blocks_are_masked_whole_before_and_after_others_are_not():
    current = {"content": "a=1\n# BEGIN s\nold line\n# END s\n"}
    blocks = [{"property": "content", "marker": "# {mark} s", "block": "new1\nnew2", "secret": True},
              {"property": "content", "marker": "# {mark} p", "block": "plain"}]
    diff = plan_properties(current, {}, blocks).diff("h")
    assert diff["before"] == "content:\n    a=1\n    # BEGIN s\n    ********\n    # END s\n"
    assert diff["after"] == ("content:\n    a=1\n    # BEGIN s\n    ********\n    # END s\n    # BEGIN p\n    plain\n"
                             "    # END p\n")
    assert mask("content", "a\n# BEGIN s\nx\ny", secret_blocks={("content", "# BEGIN s", "# END s")}) == \
        "a\n# BEGIN s\n" + MASK  # an unclosed BEGIN masks to the end


# --- second review of issue 10: quoting, JSON, every secret name, the whole token --------------------------------


@pytest.mark.parametrize("line, shown", [
    # a one-line JAAS entry echoed from kafka-env: the quotes around the password are escaped
    ('echo "KafkaClient { ...PlainLoginModule required username=\\"u\\" password=\\"hunter2\\"; };" > jaas.conf',
     f'echo "KafkaClient {{ ...PlainLoginModule required username=\\"u\\" password=\\"{MASK}\\"; }};" > jaas.conf'),
    ('password="a\\"b" tail', f'password="{MASK}" tail'),
    ('{"password": "hunter3"}', f'{{"password": "{MASK}"}}'),
    ('{"a": 1, "api_token":"t0k"}', f'{{"a": 1, "api_token":"{MASK}"}}'),
    ("export AZURE_STORAGE_KEY=hunter4", f"export AZURE_STORAGE_KEY={MASK}"),
    ("credential=hunter5 x=1", f"credential={MASK} x=1"),
    ("password=ab'cd next", f"password={MASK} next"),
    ('password=ab"cd; next', f"password={MASK} next"),
    ('export KAFKA_OPTS="-Djavax.net.ssl.trustStorePassword=tr5st"',
     f'export KAFKA_OPTS="-Djavax.net.ssl.trustStorePassword={MASK}"'),
])
def test_quoted_json_and_any_secret_names_are_masked_whole(line, shown):
    assert mask("content", line) == shown


@pytest.mark.parametrize("name", [
    "password", "ssl.keystore.password", "KS_PASSWD", "pwd", "api_token", "client_secret", "credential",
    "kafka_keytab", "private_key", "ssl.key", "AZURE_STORAGE_KEY", "key", "sasl.jaas.config", "storepass",
    "listeners", "log.dirs", "JAVA_HOME", "monkey", "keystore.location", "zookeeper.connect"])
def test_one_definition_of_a_secret_name_for_properties_and_assignments(name):
    """A name masked as a property is masked as an assignment inside a value, and the other way round."""
    as_property = mask(name, "v4lue") == MASK
    in_value = {mask("content", "export %s=v4lue" % name), mask("content", '{"%s": "v4lue"}' % name)}
    assert as_property == (SECRET_NAME.search(name) is not None)
    assert all(("v4lue" not in shown) == as_property for shown in in_value), (name, in_value)


# --- XML in content templates (issue 10, left from session 4) ----------------------------------------------------


@pytest.mark.parametrize("text, shown", [
    ("<password>hunter6</password>", f"<password>{MASK}</password>"),
    ('<ssl.keystore.password type="x">hunter7</ssl.keystore.password >',
     f'<ssl.keystore.password type="x">{MASK}</ssl.keystore.password >'),
    ("<property>\n  <name>ssl.server.truststore.password</name>\n  <value>hunter8</value>\n</property>",
     f"<property>\n  <name>ssl.server.truststore.password</name>\n  <value>{MASK}</value>\n</property>"),
    ("<name>xasecure.policymgr.clientssl.keystore.credential.file</name><value>jceks://file/k.jceks</value>",
     f"<name>xasecure.policymgr.clientssl.keystore.credential.file</name><value>{MASK}</value>"),
    ("<password></password>", "<password></password>"),  # nothing to hide
    ("<value><![CDATA[hunter9]]></value>", "<value><![CDATA[hunter9]]></value>"),  # no name: nothing known
    ("<name >ssl.keystore.password</name>\n<value><![CDATA[hun<ter10]]></value>",
     f"<name >ssl.keystore.password</name>\n<value>{MASK}</value>"),
    ("<Name>KEY_PASSWORD</Name><Value>hunter11</Value>", f"<Name>KEY_PASSWORD</Name><Value>{MASK}</Value>"),
    ("<ns:password>hunter12</ns:password>", f"<ns:password>{MASK}</ns:password>"),
    # XML inside another element's CDATA (review of session 9)
    ("<description><![CDATA[<name>ssl.keystore.password</name><value>hunter13</value>]]></description>",
     f"<description><![CDATA[<name>ssl.keystore.password</name><value>{MASK}</value>]]></description>"),
    ("<name>template</name><value><![CDATA[<password>hunter14</password>]]></value>",
     f"<name>template</name><value><![CDATA[<password>{MASK}</password>]]></value>"),
    ("<name>log.dirs</name><value>/kafka-logs</value><user>kafka</user>",
     "<name>log.dirs</name><value>/kafka-logs</value><user>kafka</user>"),
])
def test_xml_secrets_in_content_are_masked_and_other_elements_are_not(text, shown):
    assert mask("content", text) == shown
    assert looks_secret(text) == (text != shown)

"""Change computation, normalisation, block editing, masking: pure functions."""
from __future__ import annotations

import pytest

from ansible_collections.ambari_kafka.mirroring.plugins.module_utils.ambari_changes import (
    MASK, apply_block, mask, normalize, password_keys, plan_properties, render)

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
    keys = password_keys({"password": {"custom.thing": "true", "other": "false"}})
    assert keys == frozenset({"custom.thing"})
    change = plan_properties({"custom.thing": "a"}, {"custom.thing": "b"}, secret_keys=keys)
    diff = change.diff("kafka-broker")
    assert "a" not in diff["before"].split("=")[1] and diff["after"] == f"custom.thing={MASK}\n"


def test_diff_shows_only_changed_keys_and_multiline_values_indented():
    change = plan_properties({"a": "1", "b": "2", "content": "x\ny\n"}, {"a": "3", "content": "x\nz\n"})
    diff = change.diff("hdr")
    assert diff["before"] == "a=1\ncontent:\n    x\n    y\n"
    assert diff["after"] == "a=3\ncontent:\n    x\n    z\n"
    assert render({"a": "1"}, []) == ""

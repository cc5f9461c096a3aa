"""Property translation, topic selection and the command line: pure, no broker."""
from __future__ import annotations

import pytest

from kafka_mirror.config import load
from kafka_mirror.errors import ConfigError
from kafka_mirror.properties import masked, parse_properties, translate
from kafka_mirror.selection import TopicSelection, java_regex

ARTICLE_CONSUMER = "bootstrap.servers=10.23.0.11:9092,10.23.0.7:9092,10.23.0.9:9092\ngroup.id=mirrorgroup\n"
ARTICLE_PRODUCER = "bootstrap.servers=10.23.0.14:9092,10.23.0.4:9092,10.23.0.12:9092\ncompression.type=none\n"


def test_java_properties_syntax():
    text = ("# comment\n! other comment\n  a=1\nb : 2\nc 3\nd=multi \\\n   line\ne=x\\=y\\:z\nf=\n"
            "g=trailing spaces   \n")
    assert parse_properties(text) == {"a": "1", "b": "2", "c": "3", "d": "multi line", "e": "x=y:z", "f": "",
                                      "g": "trailing spaces"}


def test_article_files_translate_as_they_are():
    consumer, warnings = translate(parse_properties(ARTICLE_CONSUMER), "consumer")
    assert consumer == {"bootstrap.servers": "10.23.0.11:9092,10.23.0.7:9092,10.23.0.9:9092", "group.id": "mirrorgroup"}
    producer, _ = translate(parse_properties(ARTICLE_PRODUCER), "producer")
    assert producer == {"bootstrap.servers": "10.23.0.14:9092,10.23.0.4:9092,10.23.0.12:9092",
                        "compression.type": "none"}
    assert warnings == []


def test_zookeeper_only_consumer_explains_brokers_and_cluster_info():
    with pytest.raises(ConfigError) as err:
        translate({"zookeeper.connect": "zk0:2181", "group.id": "mirrorgroup"}, "consumer")
    assert "bootstrap.servers" in str(err.value) and "ambari_cluster_info" in str(err.value)


@pytest.mark.parametrize("key, value, expected", [
    ("max.request.size", "2000000", {"message.max.bytes": "2000000"}),
    ("ssl.truststore.location", "/etc/ca.pem", {"ssl.ca.location": "/etc/ca.pem"}),
    ("acks", "-1", {"acks": "all"}),
    ("partition.assignment.strategy", "org.apache.kafka.clients.consumer.RangeAssignor", {
        "partition.assignment.strategy": "range"}),
    ("sasl.jaas.config", 'org.apache.kafka.common.security.plain.PlainLoginModule required username="u" '
                         'password="p\\"w";', {"sasl.username": "u", "sasl.password": 'p\\"w'}),
    ("ssl.endpoint.identification.algorithm", "", {"ssl.endpoint.identification.algorithm": "none"}),
    ("linger.ms", "10", {"linger.ms": "10"}),
])
def test_translation(key, value, expected):
    conf, _ = translate({"bootstrap.servers": "b:9092", key: value}, "producer")
    assert {k: v for k, v in conf.items() if k != "bootstrap.servers"} == expected


@pytest.mark.parametrize("key, value, says", [
    ("ssl.truststore.location", "/etc/truststore.jks", "ssl.ca.location"),
    ("interceptor.classes", "com.example.Interceptor", "interceptor.classes"),
    ("value.serializer", "com.example.AvroSerializer", "Java class"),
    ("sasl.jaas.config", "com.sun.security.auth.module.Krb5LoginModule required;", "Kerberos"),
])
def test_unsupported_properties_stop_with_the_name_and_the_alternative(key, value, says):
    with pytest.raises(ConfigError) as err:
        translate({"bootstrap.servers": "b:9092", key: value}, "producer")
    assert key in str(err.value) and says in str(err.value)


def test_byte_array_serializers_and_auto_commit_are_dropped_with_a_warning():
    conf, warnings = translate({"bootstrap.servers": "b:9092", "group.id": "g", "enable.auto.commit": "true",
                                "key.deserializer": "org.apache.kafka.common.serialization.ByteArrayDeserializer"},
                               "consumer")
    assert "enable.auto.commit" not in conf and "key.deserializer" not in conf
    assert len(warnings) == 1 and "enable.auto.commit" in warnings[0]


def test_secrets_are_masked_for_logs():
    assert masked({"sasl.password": "p", "ssl.key.password": "k", "bootstrap.servers": "b"}) == {
        "sasl.password": "********", "ssl.key.password": "********", "bootstrap.servers": "b"}


@pytest.mark.parametrize("spec, topic, matched", [
    ("testtopic", "testtopic", True),
    ("testtopic", "testtopic2", False),  # full match, as MirrorMaker
    ("orders.*,payments", "orders-eu", True),
    ("orders.*,payments", "payments", True),
    (" 'a|b' ", "b", True),
    ("\\Qa.b\\E", "a.b", True),
    ("\\Qa.b\\E", "axb", False),
    ("(?<region>eu|us)-.*", "eu-orders", True),
    (".*", "__consumer_offsets", False),
])
def test_selection(spec, topic, matched):
    assert TopicSelection(spec).matches(topic) is matched


def test_exclude_and_bad_regex():
    selection = TopicSelection(".*", exclude="tmp-.*,.*-test")
    assert selection.matches("orders") and not selection.matches("tmp-1") and not selection.matches("x-test")
    with pytest.raises(ConfigError, match="not a valid regular expression"):
        TopicSelection("(unclosed")
    assert java_regex("a, b") == "a|b"


def test_command_line_like_mirrormaker(tmp_path):
    (tmp_path / "c.properties").write_text(ARTICLE_CONSUMER)
    (tmp_path / "p.properties").write_text(ARTICLE_PRODUCER)
    cfg = load(["--consumer.config", str(tmp_path / "c.properties"), "--producer.config",
                str(tmp_path / "p.properties"), "--whitelist", "testtopic", "--num.streams", "4"])
    assert cfg.streams == 4 and cfg.topics.include == "testtopic" and cfg.commit_interval_s == 5.0
    assert cfg.abort_on_send_failure is True
    assert cfg.consumer["enable.auto.commit"] is False and cfg.producer["enable.idempotence"] is True
    assert cfg.producer["acks"] == "all" and cfg.producer["compression.type"] == "none"
    stream = cfg.for_stream(2)
    assert stream.consumer["group.instance.id"].endswith("-2") and stream.consumer["group.id"] == "mirrorgroup"


def test_worker_yaml_and_overrides(tmp_path):
    (tmp_path / "worker.yaml").write_text(
        "consumer:\n  bootstrap.servers: a:9092\n  group.id: g\nproducer:\n  bootstrap.servers: b:9092\n"
        "include: orders.*\nexclude: orders-tmp\nnum_streams: 2\noffset_commit_interval_ms: 2000\n"
        "abort_on_send_failure: false\nmetrics_port: 0\nlog_format: json\n")
    cfg = load(["--config", str(tmp_path / "worker.yaml"), "--num.streams", "3"])
    assert cfg.streams == 3 and cfg.commit_interval_s == 2.0 and not cfg.abort_on_send_failure
    assert cfg.metrics_port is None and cfg.log_format == "json" and cfg.topics.exclude == "orders-tmp"


@pytest.mark.parametrize("argv, says", [
    (["--whitelist", "t"], "no consumer configuration"),
    (["--consumer.config", "/nonexistent.properties", "--whitelist", "t"], "cannot read --consumer.config"),
    (["--message.handler", "com.example.Handler"], "Java class"),
])
def test_command_line_errors(argv, says):
    with pytest.raises(ConfigError, match=says):
        load(argv)


def test_missing_group_id_and_topics(tmp_path):
    (tmp_path / "c.properties").write_text("bootstrap.servers=a:9092\n")
    (tmp_path / "p.properties").write_text("bootstrap.servers=b:9092\n")
    base = ["--consumer.config", str(tmp_path / "c.properties"), "--producer.config", str(tmp_path / "p.properties")]
    with pytest.raises(ConfigError, match="group.id"):
        load(base + ["--whitelist", "t"])
    (tmp_path / "c.properties").write_text("bootstrap.servers=a:9092\ngroup.id=g\n")
    with pytest.raises(ConfigError, match="--whitelist"):
        load(base)


def test_prefetch_is_never_paused_for_a_second_unless_asked(tmp_path):
    """librdkafka's default fetch.queue.backoff.ms (1000) idled a stream 56% of the time; 10 unless overridden."""
    (tmp_path / "p.properties").write_text(ARTICLE_PRODUCER)
    base = ["--producer.config", str(tmp_path / "p.properties"), "--whitelist", "t"]
    (tmp_path / "c.properties").write_text(ARTICLE_CONSUMER)
    assert load(["--consumer.config", str(tmp_path / "c.properties"), *base]).consumer["fetch.queue.backoff.ms"] == "10"
    (tmp_path / "c.properties").write_text(ARTICLE_CONSUMER + "\nfetch.queue.backoff.ms=500\n")
    assert load(["--consumer.config", str(tmp_path / "c.properties"), *base]).consumer["fetch.queue.backoff.ms"] == "500"

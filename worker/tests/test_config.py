"""Property translation, topic selection and the command line: pure, no broker."""
from __future__ import annotations

import re

import pytest
import yaml

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
    ("fetch.max.wait.ms", "100", {"fetch.wait.max.ms": "100"}),
    ("ssl.truststore.location", "/etc/ca.pem", {"ssl.ca.location": "/etc/ca.pem"}),
    ("acks", "-1", {"acks": "all"}),
    ("partition.assignment.strategy", "org.apache.kafka.clients.consumer.RangeAssignor", {
        "partition.assignment.strategy": "range"}),
    ("sasl.jaas.config", 'org.apache.kafka.common.security.plain.PlainLoginModule required username="u" '
                         'password="p\\"w";', {"sasl.username": "u", "sasl.password": 'p"w'}),  # as Java reads it
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
    # No --instance.id: a dynamic member, so two workers started alike never share (and fence) a member id.
    assert "group.instance.id" not in stream.consumer and stream.consumer["group.id"] == "mirrorgroup"
    assert cfg.metrics_host == "127.0.0.1"  # /metrics exposed only when asked
    static = load(["--consumer.config", str(tmp_path / "c.properties"), "--producer.config",
                   str(tmp_path / "p.properties"), "--whitelist", "t", "--instance.id", "node7"]).for_stream(2)
    assert static.consumer["group.instance.id"] == "node7-2"


@pytest.mark.parametrize("producer_line, expected", [
    ("", "1048588"),  # a default broker's limit: librdkafka's own 1,000,000 refused records MirrorMaker sends
    ("message.max.bytes=2000000", "2000000"),
    ("max.request.size=3000000", "3000000"),  # the Java name, as MirrorMaker's producer.properties have it
])
def test_record_size_limit_is_a_default_brokers_unless_the_user_sets_one(tmp_path, producer_line, expected):
    (tmp_path / "c.properties").write_text(ARTICLE_CONSUMER)
    (tmp_path / "p.properties").write_text(ARTICLE_PRODUCER + producer_line + "\n")
    cfg = load(["--consumer.config", str(tmp_path / "c.properties"), "--producer.config",
                str(tmp_path / "p.properties"), "--whitelist", "t"])
    assert cfg.producer["message.max.bytes"] == expected


def test_worker_yaml_and_overrides(tmp_path):
    (tmp_path / "worker.yaml").write_text(
        "consumer:\n  bootstrap.servers: a:9092\n  group.id: g\nproducer:\n  bootstrap.servers: b:9092\n"
        "include: orders.*\nexclude: orders-tmp\nnum_streams: 2\noffset_commit_interval_ms: 2000\n"
        "abort_on_send_failure: false\nmetrics_port: 0\nlog_format: json\n")
    cfg = load(["--config", str(tmp_path / "worker.yaml"), "--num.streams", "3"])
    assert cfg.streams == 3 and cfg.commit_interval_s == 2.0 and not cfg.abort_on_send_failure
    assert cfg.sync_topic_configs  # on unless turned off, as MirrorMaker 2's sync.topic.configs.enabled
    assert not load(["--config", str(tmp_path / "worker.yaml"), "--sync.topic.configs", "false"]).sync_topic_configs
    # both directions syncing would undo each other's changes: off with provenance unless set (on one side)
    assert not load(["--config", str(tmp_path / "worker.yaml"), "--provenance", "true"]).sync_topic_configs
    assert load(["--config", str(tmp_path / "worker.yaml"), "--provenance", "true", "--sync.topic.configs",
                 "true"]).sync_topic_configs
    assert cfg.metrics_port is None and cfg.log_format == "json" and cfg.topics.exclude == "orders-tmp"
    assert cfg.partitioning == "source"  # each record keeps its partition unless asked
    assert load(["--config", str(tmp_path / "worker.yaml"), "--partitioning", "producer"]).partitioning == "producer"
    (tmp_path / "worker.yaml").write_text((tmp_path / "worker.yaml").read_text() + "partitioning: producer\n")
    assert load(["--config", str(tmp_path / "worker.yaml")]).partitioning == "producer"
    assert load(["--config", str(tmp_path / "worker.yaml"), "--partitioning", "source"]).partitioning == "source"


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


@pytest.mark.parametrize("change, says", [
    ({"num_streams": "abc"}, "num_streams must be a whole number"),
    ({"num_stream": 2}, "unknown setting 'num_stream'; did you mean 'num_streams'?"),
    ({"consumer": ["a", "b"]}, "'consumer' must be a map of consumer properties"),
    ({"metrics_port": 70000}, "metrics_port must be from 0 to 65535"),
    ({"abort_on_send_failure": "maybe"}, "abort_on_send_failure must be true or false"),
    ({"sync_topic_configs": "sometimes"}, "sync_topic_configs must be true or false"),
    ({"sync_topic_config": False}, "unknown setting 'sync_topic_config'; did you mean 'sync_topic_configs'?"),
    ({"log_format": "xml"}, "log_format must be one of plain, json"),
    ({"include": ["a", "b"]}, "no topics to mirror"),
    ({"consumer_config": ["/etc/c.properties"]}, "consumer_config must be the path of a consumer.properties"),
    ({"partitioning": "sticky"}, "partitioning must be one of source, producer, not 'sticky'"),
    ({"partitioning": True}, "partitioning must be one of source, producer, not True"),
    ({"partitioning": "producer", "offset_map": True}, "--partitioning producer (partitioning: producer) cannot go "
     "with --offset-map (offset_map: true)"),
])
def test_bad_worker_yaml_is_refused_before_anything_starts(tmp_path, change, says):
    settings = {"consumer": {"bootstrap.servers": "a:9092", "group.id": "g"},
                "producer": {"bootstrap.servers": "b:9092"}, "include": "t", **change}
    (tmp_path / "worker.yaml").write_text(yaml.safe_dump(settings))
    with pytest.raises(ConfigError) as err:
        load(["--config", str(tmp_path / "worker.yaml")])
    assert says in str(err.value)
    assert err.value.exit_code == 2


def test_admin_clients_keep_every_security_setting(tmp_path, monkeypatch):
    keytab = tmp_path / "k.keytab"  # GSSAPI is checked at start-up: the keytab must be there, and kinit
    keytab.write_bytes(b"\x05\x02")
    monkeypatch.setattr("kafka_mirror.config.shutil.which", lambda name: f"/usr/bin/{name}")
    (tmp_path / "worker.yaml").write_text(
        "consumer:\n  bootstrap.servers: a:9093\n  group.id: g\n  security.protocol: SASL_SSL\n"
        f"  sasl.mechanism: GSSAPI\n  sasl.kerberos.keytab: {keytab}\n  sasl.kerberos.principal: m@R\n"
        "  ssl.keystore.location: /etc/client.p12\n  ssl.keystore.password: pw\n  ssl.ca.pem: PEM\n"
        "  sasl.oauthbearer.method: oidc\n  fetch.min.bytes: 1\n"
        "producer:\n  bootstrap.servers: b:9093\n  linger.ms: 5\ninclude: t\n")
    admin = load(["--config", str(tmp_path / "worker.yaml")]).admin("source")
    assert admin == {"bootstrap.servers": "a:9093", "security.protocol": "SASL_SSL", "sasl.mechanism": "GSSAPI",
                     "sasl.kerberos.keytab": str(keytab), "sasl.kerberos.principal": "m@R",
                     "ssl.keystore.location": "/etc/client.p12", "ssl.keystore.password": "pw",
                     "ssl.ca.pem": "PEM", "sasl.oauthbearer.method": "oidc"}


def test_pkcs12_keystores_pass_and_java_key_stores_are_refused_with_the_export_command():
    out, _ = translate({"bootstrap.servers": "a:1", "ssl.keystore.location": "/etc/c.p12",
                        "ssl.keystore.password": "pw"}, "producer")
    assert out["ssl.keystore.location"] == "/etc/c.p12" and out["ssl.keystore.password"] == "pw"
    with pytest.raises(ConfigError, match="keytool -importkeystore"):
        translate({"bootstrap.servers": "a:1", "ssl.keystore.location": "/etc/c.jks"}, "producer")


def test_logged_configuration_masks_every_secret_bearing_value():
    conf = {"ssl.key.pem": "-----BEGIN", "sasl.oauthbearer.config": "clientSecret=x", "sasl.password": "p",
            "sasl.oauthbearer.client.secret": "s", "bootstrap.servers": "a:1"}
    assert masked(conf) == {k: ("a:1" if k == "bootstrap.servers" else "********") for k in conf}


def test_a_second_worker_with_the_same_static_ids_on_this_host_is_refused(tmp_path):
    from kafka_mirror.cli import members_guard

    (tmp_path / "c.properties").write_text(ARTICLE_CONSUMER)
    (tmp_path / "p.properties").write_text(ARTICLE_PRODUCER)
    argv = ["--consumer.config", str(tmp_path / "c.properties"), "--producer.config", str(tmp_path / "p.properties"),
            "--whitelist", "t", "--instance.id", f"guard-{tmp_path.name}"]
    first = members_guard(load(argv))
    try:
        with pytest.raises(ConfigError, match="already runs group 'mirrorgroup' with instance.id"):
            members_guard(load(argv))
        other = members_guard(load(argv[:-1] + ["other"]))  # another id is another member
        assert other is not None
        other.close()
    finally:
        first.close()
    members_guard(load(argv)).close()  # freed when its holder is gone
    assert members_guard(load(argv[:-2])) is None  # dynamic membership needs no guard


def test_a_metrics_port_in_use_stops_before_any_stream_starts(tmp_path, monkeypatch, caplog):
    import socket

    from kafka_mirror.cli import supervise

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    (tmp_path / "c.properties").write_text(ARTICLE_CONSUMER)
    (tmp_path / "p.properties").write_text(ARTICLE_PRODUCER)
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path))
    cfg = load(["--consumer.config", str(tmp_path / "c.properties"), "--producer.config", str(tmp_path / "p.properties"),
                "--whitelist", "t", "--metrics.port", str(taken.getsockname()[1])])
    try:
        assert supervise(cfg) == 2
    finally:
        taken.close()
    assert "cannot serve /metrics and /health on 127.0.0.1" in caplog.text and "--metrics.port" in caplog.text


def test_librdkafka_and_startup_errors_reach_the_log_as_json_lines(tmp_path):
    """Against an address where nothing listens: every line on stderr is the worker's JSON (librdkafka's lines go
    through its logger, never raw to stderr), and the start-up failure names the cluster it could not reach."""
    import json
    import subprocess
    import sys

    (tmp_path / "c.properties").write_text("bootstrap.servers=127.0.0.1:9\ngroup.id=g\nsocket.timeout.ms=2000\n")
    (tmp_path / "p.properties").write_text("bootstrap.servers=127.0.0.1:9\n")
    proc = subprocess.run([sys.executable, "-m", "kafka_mirror", "--consumer.config", str(tmp_path / "c.properties"),
                           "--producer.config", str(tmp_path / "p.properties"), "--whitelist", "t",
                           "--metrics.port", "0", "--log.format", "json"],
                          capture_output=True, text=True, timeout=120, env={"STATE_DIRECTORY": str(tmp_path)})
    lines = [json.loads(line) for line in proc.stderr.splitlines()]  # raises on any raw "%3|...|FAIL|" line
    assert proc.returncode == 1
    assert any("cannot read the source cluster's metadata from bootstrap.servers=127.0.0.1:9" in l["msg"]
               for l in lines), proc.stderr


@pytest.mark.parametrize("change, says", [
    ({"consumer": {"bootstrap.servers": None, "group.id": "g"}}, "bootstrap.servers needs a single value"),
    ({"consumer": {"bootstrap.servers": "a:1", "group.id": "g", "group.instance.id": "x"}},
     "give --instance.id (instance_id in worker.yaml) instead"),
    ({"config": "other.yaml"}, "unknown setting 'config'"),
])
def test_values_that_would_misbehave_later_are_refused_at_start(tmp_path, change, says):
    settings = {"consumer": {"bootstrap.servers": "a:9092", "group.id": "g"},
                "producer": {"bootstrap.servers": "b:9092"}, "include": "t", **change}
    (tmp_path / "worker.yaml").write_text(yaml.safe_dump(settings))
    with pytest.raises(ConfigError, match=re.escape(says)):
        load(["--config", str(tmp_path / "worker.yaml")])


def test_files_in_other_encodings_are_read_as_java_reads_them_or_refused_clearly(tmp_path):
    (tmp_path / "c.properties").write_bytes(b"# caf\xe9\nbootstrap.servers=a:1\ngroup.id=g\n")  # ISO 8859-1, as Java
    (tmp_path / "p.properties").write_text(ARTICLE_PRODUCER)
    cfg = load(["--consumer.config", str(tmp_path / "c.properties"), "--producer.config",
                str(tmp_path / "p.properties"), "--whitelist", "t"])
    assert cfg.consumer["bootstrap.servers"] == "a:1"
    (tmp_path / "worker.yaml").write_bytes(b"include: caf\xe9\n")
    with pytest.raises(ConfigError, match="cannot read --config"):
        load(["--config", str(tmp_path / "worker.yaml")])


def test_the_sensitive_settings_librdkafka_knows_are_masked():
    assert masked({"sasl.oauthbearer.assertion.private.key.passphrase": "p",
                   "sasl.oauthbearer.assertion.private.key.pem": "k"}) == {
        "sasl.oauthbearer.assertion.private.key.passphrase": "********",
        "sasl.oauthbearer.assertion.private.key.pem": "********"}


def test_check_says_what_the_service_would_refuse_and_prints_no_secret(tmp_path, capsys):
    """`kafka-mirror check`: the role runs it before a restart, so that a configuration the worker refuses fails the
    play naming the reason, not a /health wait that ends in 'connection refused'."""
    from kafka_mirror.cli import check_command

    secret = "s3cr3t-pw"
    props = tmp_path / "consumer.properties"
    props.write_text(f"bootstrap.servers=s:9092\ngroup.id=g\nsecurity.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n"
                     f"sasl.username=u\nsasl.password={secret}\n")
    good = tmp_path / "good.yaml"
    good.write_text(f"consumer_config: {props}\nproducer: {{bootstrap.servers: t:9092}}\ninclude: a\n")
    assert check_command(["--config", str(good)]) == 0
    out, err = capsys.readouterr()
    assert out == "kafka-mirror: configuration accepted: 1 stream(s), include='a', exactly_once=false\n"
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"consumer_config: {props}\nproducer: {{bootstrap.servers: t:9092, transaction.timeout.ms: "
                   "600000}\ninclude: a\nexactly_once: true\ninstance_id: w1\n")
    assert check_command(["--config", str(bad)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("kafka-mirror: producer transaction.timeout.ms=600000 lets a new assignment")
    assert secret not in out + err


def test_a_secret_that_looks_like_a_java_class_is_taken_as_given_and_never_printed(tmp_path, capsys):
    """The Java-class check (librdkafka cannot load one) once printed `sasl.password=com.Acme.S3cret names a Java
    class`: a secret is never judged by its value, nor shown (review of 86738c9)."""
    from kafka_mirror.cli import check_command

    props = tmp_path / "producer.properties"
    props.write_text("bootstrap.servers=t:9092\nsasl.password=com.Acme.S3cret\nssl.key.password=net.x.Pw9\n")
    path = tmp_path / "w.yaml"
    path.write_text(f"consumer: {{bootstrap.servers: s:9092, group.id: g}}\nproducer_config: {props}\ninclude: a\n")
    assert check_command(["--config", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "S3cret" not in out + err and "Pw9" not in out + err
    assert load(["--config", str(path)]).producer["sasl.password"] == "com.Acme.S3cret"


@pytest.mark.parametrize("value", ["--5", "²", "1e3", " "])
def test_a_number_that_is_not_one_is_a_configuration_error_not_a_traceback(tmp_path, value):
    path = tmp_path / "w.yaml"
    path.write_text("consumer: {bootstrap.servers: s:9092, group.id: g}\ninclude: a\nexactly_once: true\n"
                    f"instance_id: w1\nproducer: {{bootstrap.servers: t:9092, transaction.timeout.ms: '{value}'}}\n")
    with pytest.raises(ConfigError, match="transaction.timeout.ms must be a whole number"):
        load(["--config", str(path)])


def test_a_nul_in_a_properties_path_is_a_configuration_error(tmp_path):
    with pytest.raises(ConfigError, match="is not a usable path"):
        load(["--consumer.config", "a\x00b", "--producer.config", "b", "--whitelist", "a"])

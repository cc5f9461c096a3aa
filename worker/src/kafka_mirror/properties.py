"""Java client properties (MirrorMaker's consumer.properties / producer.properties) -> librdkafka configuration.

Names that differ are translated; names with no librdkafka equivalent stop start-up with a message naming the
property and the alternative. Anything else is passed through, and librdkafka itself rejects what it does not know
(the mirror reports that by name too).
"""
from __future__ import annotations

import re

from kafka_mirror.errors import ConfigError
from kafka_mirror.jaas import JaasError, login_options

# Java name -> librdkafka name, where they differ.
RENAMED = {
    "max.request.size": "message.max.bytes",
    "fetch.max.wait.ms": "fetch.wait.max.ms",  # in the tuning guides' consumer settings; librdkafka refused it
    "receive.buffer.bytes": "socket.receive.buffer.bytes",
    "send.buffer.bytes": "socket.send.buffer.bytes",
    "ssl.endpoint.identification.algorithm": "ssl.endpoint.identification.algorithm",
}
# Java properties the mirror decides itself, or that mean nothing to librdkafka: dropped with a warning.
IGNORED = {
    "enable.auto.commit": "the mirror commits source offsets itself, only up to what the target acknowledged",
    "auto.commit.interval.ms": "use --offset.commit.interval.ms",
    "consumer.timeout.ms": "MirrorMaker 1's old consumer setting; not needed",
    "client.dns.lookup": "librdkafka resolves all addresses of a name by default",
    "ssl.truststore.type": "PEM CA files are given directly",
    "ssl.keystore.type": "librdkafka tells PKCS#12 (.p12, .pfx) from PEM by itself",
    "ssl.truststore.password": "PEM CA files have no password",
    "buffer.memory": "use queue.buffering.max.kbytes (librdkafka's producer queue)",
    "offsets.storage": "the old consumer's setting; offsets are kept in Kafka",
    "dual.commit.enabled": "the old consumer's setting; offsets are kept in Kafka",
}
# Java properties that cannot work with librdkafka: start-up stops, naming the alternative.
UNSUPPORTED = {
    "interceptor.classes": "Java interceptors cannot run in librdkafka; remove the property",
    "partitioner.class": "the mirror keeps the source partition, or with --partitioning producer places records "
                         "with librdkafka's partitioner property (default murmur2_random, as Java's default)",
    "sasl.login.callback.handler.class": "use sasl.mechanism with sasl.username/sasl.password or OAUTHBEARER",
    "sasl.client.callback.handler.class": "use sasl.mechanism with sasl.username/sasl.password",
    "security.providers": "librdkafka uses OpenSSL; remove the property",
}
ASSIGNORS = {
    "org.apache.kafka.clients.consumer.RangeAssignor": "range",
    "org.apache.kafka.clients.consumer.RoundRobinAssignor": "roundrobin",
    "org.apache.kafka.clients.consumer.CooperativeStickyAssignor": "cooperative-sticky",
    "org.apache.kafka.clients.consumer.StickyAssignor": "cooperative-sticky",
}
JAVA_CLASS = re.compile(r"(org|io|com|net)\.[\w.$]+\.[A-Z][\w$]*")
JKS_SUFFIXES = (".jks", ".keystore", ".truststore")
PKCS12_SUFFIXES = (".p12", ".pfx")


def parse_properties(text: str) -> dict[str, str]:
    """java.util.Properties.load: comments (# !), key=value, key:value or key value, continuation lines."""
    props: dict[str, str] = {}
    logical = ""
    for raw in re.split(r"\r\n|\r|\n", text):  # Java's line ends only (splitlines() also breaks at \x0b, \x85...)
        line = raw.lstrip()
        if not logical and (not line or line[0] in "#!"):
            continue
        if _continues(line):
            logical += line[:-1]
            continue
        logical += line
        key, value = _split(logical)
        props[key] = value
        logical = ""
    if logical:
        key, value = _split(logical)
        props[key] = value
    return props


def _continues(line: str) -> bool:
    trailing = len(line) - len(line.rstrip("\\"))
    return trailing % 2 == 1


def _split(line: str) -> tuple[str, str]:
    match = re.match(r"((?:[^=:\s\\]|\\.)+)\s*[=:\s]?\s*(.*)$", line)
    if not match:
        return line.strip(), ""
    return _unescape(match.group(1)), _unescape(_rstrip_unescaped(match.group(2)))


def _rstrip_unescaped(text: str) -> str:
    """Trailing blanks are dropped (lenient with hand-written files), but not one escaped by a backslash."""
    stripped = text.rstrip()
    backslashes = len(stripped) - len(stripped.rstrip("\\"))
    return text[:len(stripped) + 1] if backslashes % 2 else stripped


def _unescape(text: str) -> str:
    """load's escapes: \\t \\n \\r \\f, \\uXXXX (UTF-16 code units, so pairs make one character), else the character."""
    out = re.sub(r"\\(u[0-9a-fA-F]{4}|.)", lambda m: chr(int(m.group(1)[1:], 16)) if len(m.group(1)) == 5 else
                 {"n": "\n", "t": "\t", "r": "\r", "f": "\f"}.get(m.group(1), m.group(1)), text)
    return out.encode("utf-16", "surrogatepass").decode("utf-16", "surrogatepass") if "\\u" in text else out


def translate(props: dict[str, str], role: str) -> tuple[dict[str, str], list[str]]:
    """librdkafka configuration for a `role` ("consumer" or "producer") client, and warnings to log."""
    if role == "consumer" and "zookeeper.connect" in props and "bootstrap.servers" not in props:
        raise ConfigError(
            "consumer.properties has zookeeper.connect but no bootstrap.servers: the mirror connects to Kafka brokers, "
            "not ZooKeeper (the 2017 edition of the article used the old consumer). Set bootstrap.servers to the "
            "primary's brokers, host:9092 separated by commas; the ambari_kafka.mirroring.ambari_cluster_info module "
            "returns them as bootstrap_servers.")
    out: dict[str, str] = {}
    warnings: list[str] = []
    for key, value in props.items():
        if key in UNSUPPORTED:
            raise ConfigError(f"{role}.properties: {key}={value} has no librdkafka equivalent: {UNSUPPORTED[key]}")
        if key in IGNORED:
            warnings.append(f"{role}.properties: ignoring {key} ({IGNORED[key]})")
            continue
        if key == "zookeeper.connect":
            warnings.append(f"{role}.properties: ignoring zookeeper.connect (brokers come from bootstrap.servers)")
            continue
        out.update(_translate_one(key, value, role))
    if "bootstrap.servers" not in out:
        raise ConfigError(f"{role}.properties has no bootstrap.servers: give the {_cluster(role)} cluster's brokers "
                          "as host:port separated by commas")
    return out, warnings


def _cluster(role: str) -> str:
    return "source (primary)" if role == "consumer" else "target (secondary)"


BYTES_SERDES = ("ByteArraySerializer", "ByteArrayDeserializer", "BytesSerializer", "BytesDeserializer")


def _translate_one(key: str, value: str, role: str) -> dict[str, str]:
    if key.endswith((".deserializer", ".serializer")) and value.rsplit(".", 1)[-1] in BYTES_SERDES:
        return {}  # byte-preserving, which is what the mirror does anyway
    if key.endswith((".deserializer", ".serializer")) or key in ("key.converter", "value.converter"):
        raise ConfigError(f"{role}.properties: {key}={value}: a Java class cannot be loaded by the mirror, which "
                          "copies bytes as they are; remove the property")
    if key in ("ssl.truststore.location", "ssl.keystore.location"):
        return _store(key, value, role)
    if key == "ssl.keystore.password":  # librdkafka: the PKCS#12 keystore's password (ssl.keystore.location)
        return {key: value}
    if key == "sasl.jaas.config":
        return _jaas(value, role)
    if key == "partition.assignment.strategy":
        names = [ASSIGNORS.get(v.strip(), v.strip()) for v in value.split(",")]
        return {key: ",".join(dict.fromkeys(names))}
    if key == "ssl.endpoint.identification.algorithm":
        return {key: value.strip() or "none"}
    if key == "acks" and value == "-1":
        return {key: "all"}
    if JAVA_CLASS.fullmatch(value) and not SECRET.search(key):  # a password may look like one: never judged, nor shown
        raise ConfigError(f"{role}.properties: {key}={value} names a Java class, which librdkafka cannot load")
    return {RENAMED.get(key, key): value}


def _store(key: str, value: str, role: str) -> dict[str, str]:
    """PEM files and PKCS#12 keystores are read by librdkafka; Java key stores (JKS) and PKCS#12 trust stores not."""
    lower = value.lower()
    if key == "ssl.keystore.location" and lower.endswith(PKCS12_SUFFIXES):
        return {key: value}
    if lower.endswith(JKS_SUFFIXES + PKCS12_SUFFIXES):
        what = "CA certificate(s) as PEM in ssl.ca.location (keytool -exportcert -rfc, or openssl pkcs12 -nokeys)" \
            if "truststore" in key else "client certificate and key as PKCS#12 (keytool -importkeystore " \
            "-deststoretype PKCS12) in ssl.keystore.location, or as PEM in ssl.certificate.location and " \
            "ssl.key.location"
        raise ConfigError(f"{role}.properties: {key}={value} is a key store librdkafka cannot read; give the {what}")
    return {"ssl.ca.location": value} if "truststore" in key else {"ssl.certificate.location": value}


def _jaas(value: str, role: str) -> dict[str, str]:
    """PLAIN and SCRAM login modules carry a username and password librdkafka takes directly."""
    try:
        module, fields = login_options(value)
    except JaasError as exc:
        raise ConfigError(f"{role}.properties: sasl.jaas.config is not a line Kafka's Java clients accept: {exc}") \
            from None
    if module.endswith((".PlainLoginModule", ".ScramLoginModule")):
        if "username" in fields and "password" in fields:
            return {"sasl.username": fields["username"], "sasl.password": fields["password"]}
    raise ConfigError(f"{role}.properties: sasl.jaas.config with this login module cannot be used by librdkafka; "
                      "for PLAIN or SCRAM give username and password in it, for Kerberos use sasl.kerberos.* settings")


# Names whose values are secrets, or may hold one (ssl.key.pem, sasl.oauthbearer.config, a JAAS line, a token).
SECRET = re.compile(r"password|passphrase|secret|jaas|token|private|oauthbearer\.(client|config)|\.pem$|"
                    r"credential", re.I)


def masked(conf: dict[str, str]) -> dict[str, str]:
    """A configuration fit for logs."""
    return {k: ("********" if SECRET.search(k) else v) for k, v in conf.items()}

"""kafka_client_properties: a cluster's kafka_security as the client properties kafka-mirror reads back as given."""
from __future__ import annotations

import subprocess

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.ambari_kafka.mirroring.plugins.filter.java_properties import to_java_properties
from ansible_collections.ambari_kafka.mirroring.plugins.filter.kafka_client_properties import kafka_client_properties
from kafka_mirror.properties import parse_properties, translate

LAB_PRIMARY = {"protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512", "sasl_username": "mirror-primary",
               "sasl_password": "Zx-9_secret", "ca_path": "/var/lib/kafka-lab/pki/ca.pem", "address": "ip"}


def test_plaintext_adds_nothing_so_existing_files_do_not_change():
    assert kafka_client_properties({}) == {} == kafka_client_properties(None)
    assert kafka_client_properties({"protocol": "PLAINTEXT", "ca_path": "/x"}, "/etc/ca.pem") == {}


def test_scram_over_tls_reaches_kafka_mirror_as_librdkafka_settings():
    props = kafka_client_properties(LAB_PRIMARY, "/etc/kafka-mirror/source-ca.pem")
    assert props["ssl.truststore.location"] == "/etc/kafka-mirror/source-ca.pem"  # the node's copy, not the controller's
    text = to_java_properties({"bootstrap.servers": "10.231.1.10:9094", **props})
    conf, warnings = translate(parse_properties(text), "consumer")
    assert conf == {"bootstrap.servers": "10.231.1.10:9094", "security.protocol": "SASL_SSL",
                    "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "mirror-primary",
                    "sasl.password": "Zx-9_secret", "ssl.ca.location": "/etc/kafka-mirror/source-ca.pem"}
    assert warnings == ["consumer.properties: ignoring ssl.truststore.type (PEM CA files are given directly)"]


def test_kerberos_gives_librdkafka_keytab_and_principal():
    props = kafka_client_properties({"protocol": "SASL_SSL", "sasl_mechanism": "GSSAPI",
                                     "kerberos_principal": "mirror@CONTOSO.COM",
                                     "kerberos_keytab": "/etc/security/keytabs/mirror.keytab"}, "/etc/ca.pem")
    assert props == {"security.protocol": "SASL_SSL", "sasl.mechanism": "GSSAPI",
                     "sasl.kerberos.service.name": "kafka", "sasl.kerberos.principal": "mirror@CONTOSO.COM",
                     "sasl.kerberos.keytab": "/etc/security/keytabs/mirror.keytab"}


@pytest.mark.parametrize("security, message", [
    ({"protocol": "SASL_SSL"}, "needs kafka_security.sasl_mechanism"),
    ({"protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512", "sasl_username": "u"},
     "needs kafka_security.sasl_password"),
    ({"protocol": "SASL_SSL", "sasl_mechanism": "GSSAPI", "kerberos_principal": "p@R"},
     "needs kafka_security.kerberos_keytab"),
    ({"protocol": "TLS"}, "must be one of"),
])
def test_incomplete_settings_name_the_missing_one(security, message):
    with pytest.raises(AnsibleFilterError, match=message):
        kafka_client_properties(security, "/etc/ca.pem")


# Java is the reference: a Java client loads the properties file (Properties.load, as Utils.loadProps does) and parses
# sasl.jaas.config with Kafka's own JaasContext (apache/kafka 3.9 clients/.../security/JaasConfig.java, a
# java.io.StreamTokenizer), from the kafka-clients jar the lab runs.
JAAS_JAVA = r"""
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.util.*;
import org.apache.kafka.common.config.types.Password;
import org.apache.kafka.common.security.JaasContext;

public class Jaas {
    public static void main(String[] args) throws IOException {
        for (String file : args) {  // per file: its username and password, as hex of UTF-16BE, on one line
            Properties p = new Properties();
            try (InputStream in = new FileInputStream(file)) { p.load(in); }
            Map<String, Object> configs = new HashMap<>();
            configs.put("sasl.jaas.config", new Password(p.getProperty("sasl.jaas.config")));
            Map<String, ?> options = JaasContext.loadClientContext(configs).configurationEntries().get(0).getOptions();
            StringBuilder line = new StringBuilder();
            for (String k : new String[] {"username", "password"}) {
                for (byte b : ((String) options.get(k)).getBytes(StandardCharsets.UTF_16BE))
                    line.append(String.format("%02x", b));
                line.append(' ');
            }
            System.out.println(line.toString().trim());
        }
    }
}
"""
PASSWORDS = ['a"b', "c\\d", "ends\\", '"', '\\"', "two\nlines\r", "tab\tand 'single'", "/* not // a comment */",
             "=;:#!", "caf\u00e9 \U0001f600", "\\101 \\n"]


def test_any_password_reaches_java_and_kafka_mirror_as_given(tmp_path):
    from kafka_lab.runtime import find_java_home, locate

    source = tmp_path / "Jaas.java"
    source.write_text(JAAS_JAVA)
    classpath = str(locate().libs / "*")
    files = []
    for i, password in enumerate(PASSWORDS):
        security = {**LAB_PRIMARY, "sasl_username": f"user {password}", "sasl_password": password}
        text = to_java_properties({"bootstrap.servers": "b:9094", **kafka_client_properties(security, "/etc/ca.pem")})
        conf, _ = translate(parse_properties(text), "consumer")
        assert (conf["sasl.username"], conf["sasl.password"]) == (f"user {password}", password)
        files.append(tmp_path / f"client-{i}.properties")
        files[-1].write_text(text, encoding="latin-1")
    proc = subprocess.run([str(find_java_home() / "bin" / "java"), "-cp", classpath, str(source), *map(str, files)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    read = [[bytes.fromhex(h).decode("utf-16-be", "surrogatepass") for h in line.split(" ")]
            for line in proc.stdout.splitlines()]
    assert read == [[f"user {p}", p] for p in PASSWORDS]

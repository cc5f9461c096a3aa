"""kafka_client_properties: a cluster's kafka_security as the client properties kafka-mirror reads back as given."""
from __future__ import annotations

import subprocess

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.ambari_kafka.mirroring.plugins.filter.java_properties import to_java_properties
from ansible_collections.ambari_kafka.mirroring.plugins.filter.kafka_client_properties import kafka_client_properties
from kafka_mirror.properties import parse_properties, translate

from .test_java_properties import HEX_METHODS

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


@pytest.mark.parametrize("value, says", [(True, "must be a string, not a bool: quote it"),
                                         (123, "must be a string, not a int"), ("a\0b-hidden", "NUL character")])
def test_a_password_that_would_not_arrive_as_typed_is_refused_without_showing_it(value, says):
    with pytest.raises(AnsibleFilterError) as err:
        kafka_client_properties({**LAB_PRIMARY, "sasl_password": value}, "/etc/ca.pem")
    assert "kafka_security.sasl_password" in str(err.value) and says in str(err.value)
    assert "hidden" not in str(err.value) and "True" not in str(err.value) and "123" not in str(err.value)


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


JAAS_LINES_JAVA = r"""
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.util.*;
import org.apache.kafka.common.config.types.Password;
import org.apache.kafka.common.security.JaasContext;
import javax.security.auth.login.AppConfigurationEntry;

// Per stdin line (hex of UTF-16BE): "ERROR", or the login module and its options, each as hex, sorted by key.
public class JaasLines {
""" + HEX_METHODS + r"""    public static void main(String[] args) throws IOException {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII));
        for (String line; (line = in.readLine()) != null; ) {
            try {
                Map<String, Object> configs = new HashMap<>();
                configs.put("sasl.jaas.config", new Password(unhex(line)));
                AppConfigurationEntry e = JaasContext.loadClientContext(configs).configurationEntries().get(0);
                StringBuilder out = new StringBuilder(hex(e.getLoginModuleName()));
                for (Map.Entry<String, ?> o : new TreeMap<String, Object>(e.getOptions()).entrySet())
                    out.append(' ').append(hex(o.getKey())).append('=').append(hex((String) o.getValue()));
                System.out.println(out);
            } catch (Exception e) {
                System.out.println("ERROR");
            }
        }
    }
}
"""
M = "org.apache.kafka.common.security.scram.ScramLoginModule"
JAAS_LINES = [
    f'{M} required username="u" password="p";',
    f"{M} required username='u' password='it\\'s';",
    f"{M} REQUIRED username=bob password=s3cr3t;",
    f'{M} required username="u" password="new"; // password="old"',
    f'{M} required username="u" /* password="old" */ password="new";',
    f'{M} required username="u" password="real" x.password="other" old-password="other2";',
    f'{M} required username=ab\u00a0cd password=p\u3000q;',
    f'{M} required "username"="u" "password"="p";',
    f'{M} required username /* here */ = "u" password="p";',
    f'{M}\x01required\x02username="u"\x03password="p";',
    f'{M} required username="u" password="p\nq";',
    f'{M} required username="u" password="\\101\\7\\18\\400\\q\\\n";',
    f'{M} required username="u" password="p"',
    f'{M} required username="u" password="p"; {M} required username="v" password="q";',
    f'{M} required username=p"cd" password=ab/cd;',
    f'{M} required username=a\x85b password=p;',
    f'{M} maybe username="u" password="p";',
    f'{M} required username= password="p";',
    f'{M} required username="u" password="/*";',
    f'{M} required username="u" password="p\\',
    f"/ {M}\n{M} required username=u password=p;",
    f"{M} required username=u password=p; /* unterminated",
    "",
    ";",
]


def test_kafka_mirror_reads_every_jaas_line_as_kafkas_java_clients_do(tmp_path):
    from kafka_lab.runtime import find_java_home, locate
    from kafka_mirror.jaas import JaasError, login_options

    source = tmp_path / "JaasLines.java"
    source.write_text(JAAS_LINES_JAVA)
    stdin = "".join(line.encode("utf-16-be").hex() + "\n" for line in JAAS_LINES)
    proc = subprocess.run([str(find_java_home() / "bin" / "java"), "-cp", str(locate().libs / "*"), str(source)],
                          input=stdin, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]

    def python_reads(line: str) -> str:
        try:
            module, options = login_options(line)
        except JaasError:
            return "ERROR"
        return " ".join([module.encode("utf-16-be").hex()] + [
            f"{k.encode('utf-16-be').hex()}={v.encode('utf-16-be', 'surrogatepass').hex()}"
            for k, v in sorted(options.items())])

    java = proc.stdout.splitlines()
    assert len(java) == len(JAAS_LINES)
    for line, expected in zip(JAAS_LINES, java):
        assert python_reads(line) == expected, repr(line)

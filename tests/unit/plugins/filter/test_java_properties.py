"""to_java_properties writes what Java's Properties.store writes, and both Java and kafka-mirror read it back as given.

Java itself is the reference (openjdk/jdk java.util.Properties.saveConvert and load; Kafka reads client property files
with Properties.load(InputStream), clients/.../common/utils/Utils.java loadProps, apache/kafka 3.9): the JDK the lab
needs runs a small program that stores and loads the same properties.
"""
from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.ambari_kafka.mirroring.plugins.filter.java_properties import to_java_properties
from kafka_lab.runtime import find_java_home
from kafka_mirror.properties import parse_properties

# Keys and values that break naive writers: separators, comment marks, line ends, continuations, leading and trailing
# blanks, control characters, Latin-1, beyond the BMP.
TRICKY = {
    "sasl.jaas.config": 'org.apache.kafka.common.security.plain.PlainLoginModule required username="u" '
                        'password="p=w:d#1!x\\";',
    "ends.with.backslash": "secret\\",
    "injects.a.property": "x\nssl.key.password=owned",
    "carriage": "a\rb\r\nc",
    "leading": "  two leading blanks",
    "tabs": "\tx\t",
    "comment": "#not a comment",
    "bang": "!not a comment either",
    "key with spaces = and : too": "v",
    "empty": "",
    "controls": "\x00\x01\x0b\x0c\x1f\x7f",
    "latin1": "café ÿ",
    "emoji": "mirror 😀 ok",
    "unicode.key.é": "ü",
    "line.separators": "a\x85b\u2028c\u2029d\x1ce",
}
# Strings cross between Python and Java as hex of UTF-16BE: no encoding or line end can change them on the way.
HEX_METHODS = r"""
    static String unhex(String h) {
        byte[] b = new byte[h.length() / 2];
        for (int i = 0; i < b.length; i++) b[i] = (byte) Integer.parseInt(h.substring(2 * i, 2 * i + 2), 16);
        return new String(b, StandardCharsets.UTF_16BE);
    }
    static String hex(String s) {
        StringBuilder out = new StringBuilder();
        for (byte b : s.getBytes(StandardCharsets.UTF_16BE)) out.append(String.format("%02x", b));
        return out.toString();
    }
"""
JAVA = r"""
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.util.*;

// store: hex(UTF-16BE) key and value per stdin line -> Properties.store(System.out); load FILE: the reverse.
public class Props {
""" + HEX_METHODS + r"""    public static void main(String[] args) throws IOException {
        Properties p = new Properties();
        if (args[0].equals("store")) {
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII));
            for (String line; (line = in.readLine()) != null; ) {
                String[] kv = line.split(" ", -1);
                p.setProperty(unhex(kv[0]), unhex(kv[1]));
            }
            p.store(System.out, null);
        } else {
            try (InputStream in = new FileInputStream(args[1])) { p.load(in); }
            for (String k : p.stringPropertyNames()) System.out.println(hex(k) + " " + hex(p.getProperty(k)));
        }
    }
}
"""


def utf16_hex(text: str) -> str:
    return text.encode("utf-16-be", "surrogatepass").hex()


class Java:
    def __init__(self, tmp: Path) -> None:
        self.source = tmp / "Props.java"
        self.source.write_text(JAVA)
        self.java = str(find_java_home() / "bin" / "java")
        self.tmp = tmp

    def run(self, *args: str, stdin: str = "") -> str:
        proc = subprocess.run([self.java, str(self.source), *args], input=stdin.encode("ascii"), capture_output=True,
                              timeout=120)
        assert proc.returncode == 0, proc.stderr.decode()
        return proc.stdout.decode("latin-1")

    def store(self, props: dict[str, str]) -> set[str]:
        stdin = "".join(f"{utf16_hex(k)} {utf16_hex(v)}\n" for k, v in props.items())
        return set(self.run("store", stdin=stdin).splitlines()[1:])  # the first line is store's date comment

    def load(self, text: str) -> dict[str, str]:
        path = self.tmp / "written.properties"
        path.write_bytes(text.encode("latin-1"))  # the filter's output is ASCII; Java reads ISO 8859-1
        pairs = (line.split(" ") for line in self.run("load", str(path)).splitlines())
        return {bytes.fromhex(k).decode("utf-16-be", "surrogatepass"):
                bytes.fromhex(v).decode("utf-16-be", "surrogatepass") for k, v in pairs}


@pytest.fixture(scope="module")
def java(tmp_path_factory):
    return Java(tmp_path_factory.mktemp("java"))


def test_lines_are_the_ones_java_stores(java):
    written = to_java_properties(TRICKY)
    assert written.isascii() and written.count("\n") == len(TRICKY)  # one line per property, whatever it holds
    assert set(written.splitlines()) == java.store(TRICKY)


def test_trailing_blanks_are_escaped_and_java_reads_them_back(java):
    props = {"password": "ends with blanks  ", "only.blanks": "   "}
    written = to_java_properties(props)
    assert written == "only.blanks=\\ \\ \\ \npassword=ends with blanks\\ \\ \n"
    assert java.load(written) == props


def test_java_and_kafka_mirror_read_back_what_was_given(java):
    written = to_java_properties(TRICKY)
    assert java.load(written) == TRICKY
    assert parse_properties(written) == TRICKY


def test_random_properties_round_trip_through_kafka_mirror():
    alphabet = " \t\n\r\f\\=:#!\"'abcXYZ019.-_\x00\x0b\x1c\x7f\x85éÿ\u2028€😀"
    rng = random.Random(14)
    for _ in range(500):
        props = {"".join(rng.choices(alphabet, k=rng.randint(1, 8))): "".join(rng.choices(alphabet, k=rng.randint(0, 12)))
                 for _ in range(rng.randint(1, 4))}
        written = to_java_properties(props)
        assert parse_properties("# ansible managed\n" + written) == props, written


def test_yaml_scalars_are_written_as_java_expects():
    assert to_java_properties({"enable.idempotence": True, "acks": -1, "linger.ms": 5, "x": False}) == (
        "acks=-1\nenable.idempotence=true\nlinger.ms=5\nx=false\n")


@pytest.mark.parametrize("value, what", [(None, "no value"), (["a"], "a list"), ({"a": 1}, "a dict")])
def test_a_value_that_is_no_scalar_is_named_without_its_content(value, what):
    with pytest.raises(AnsibleFilterError) as err:
        to_java_properties({"sasl.jaas.config": value, "ok": "fine"})
    assert "'sasl.jaas.config'" in str(err.value) and what in str(err.value)
    assert "fine" not in str(err.value) and "'a'" not in str(err.value)


def test_not_a_dict_is_refused():
    with pytest.raises(AnsibleFilterError, match="expects a dict of properties, got a list"):
        to_java_properties(["bootstrap.servers=b0:9092"])

"""one_record_batch is the size Kafka itself gives a batch of one record: Kafka's own classes from the lab's jars
(apache/kafka 3.9: MemoryRecords.withRecords, the batch the broker weighs against max.message.bytes in
UnifiedLog.analyzeAndValidateRecords) measure the same records."""
from __future__ import annotations

import subprocess

from kafka_mirror.record_size import one_record_batch, varint_size

JAVA = r"""
import java.util.HexFormat;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.SimpleRecord;

public class Sizes {
    static byte[] field(String hex) { return hex.equals("-") ? null : HexFormat.of().parseHex(hex); }

    public static void main(String[] args) {
        // Per line: key value [header-name header-value]...; hex, "-" for null.
        for (String line : new java.util.Scanner(System.in).useDelimiter("\\A").next().split("\n")) {
            String[] f = line.split(" ", -1);
            Header[] headers = new Header[(f.length - 2) / 2];
            for (int i = 0; i < headers.length; i++)
                headers[i] = new RecordHeader(new String(field(f[2 + 2 * i]), java.nio.charset.StandardCharsets.UTF_8), field(f[3 + 2 * i]));
            SimpleRecord record = new SimpleRecord(1_700_000_000_000L, field(f[0]), field(f[1]), headers);
            System.out.println(MemoryRecords.withRecords(Compression.NONE, record).sizeInBytes());
        }
    }
}
"""

CASES = [
    (None, None, []),
    (b"", b"", []),
    (b"k", b"v" * 63, []),
    (b"k", b"v" * 64, []),  # the value's length needs a second varint byte
    (None, b"x" * 8_191, [("h", b"1")]),
    (b"key" * 50, b"x" * 200_000, [("fault-seq", b"\0" * 8), ("empty", b""), ("null", None)]),
    (b"k", b"x" * 1_048_588, [("\u00e9t\u00e9", b"utf-8 name")]),
]


def hexed(data: bytes | None) -> str:
    return "-" if data is None else data.hex()  # b"" is "": Java splits on single blanks and keeps it


def test_varint_sizes_are_kafkas():  # ByteUtils.sizeOfVarint: 7 bits a byte of the zig-zag value
    assert [varint_size(v) for v in (0, -1, 63, 64, -65, 8_191, 8_192, 2**31 - 1, -2**31)] == [1, 1, 1, 2, 2, 2, 3, 5, 5]


def test_a_batch_of_one_record_is_the_size_kafka_gives_it(tmp_path):
    from kafka_lab.runtime import find_java_home, locate

    source = tmp_path / "Sizes.java"
    source.write_text(JAVA)
    lines = [" ".join([hexed(k), hexed(v)] + [p for name, data in h for p in (name.encode().hex(), hexed(data))])
             for k, v, h in CASES]
    proc = subprocess.run([str(find_java_home() / "bin" / "java"), "-cp", str(locate().libs / "*"), str(source)],
                          input="\n".join(lines), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [int(n) for n in proc.stdout.split()] == [one_record_batch(k, v, h) for k, v, h in CASES]

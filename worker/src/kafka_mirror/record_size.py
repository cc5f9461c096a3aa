"""What the target broker weighs against a topic's max.message.bytes: the size of the record batch that carries a
record (message format v2, as written uncompressed).

The broker refuses a batch larger than the limit (apache/kafka 3.9, UnifiedLog.analyzeAndValidateRecords:
`batch.sizeInBytes > config.maxMessageSize`). A batch holding one record is the smallest any producer can send it in,
so a record whose one-record batch is over the limit can never be written: the mirror stops before handing it over,
which leaves nothing after it in flight to land first. Sizes follow clients/.../record/DefaultRecordBatch.java
(RECORD_BATCH_OVERHEAD) and DefaultRecord.java (sizeInBytes, sizeOfBodyInBytes).
"""
from __future__ import annotations

from collections.abc import Sequence

BATCH_OVERHEAD = 61  # DefaultRecordBatch.RECORD_BATCH_OVERHEAD: the batch header, up to its first record


def varint_size(value: int) -> int:
    """ByteUtils.sizeOfVarint: the zig-zag varint of a 32-bit value, 1 to 5 bytes."""
    zigzag = ((value << 1) ^ (value >> 31)) & 0xFFFFFFFF
    size = 1
    while zigzag >= 0x80:
        zigzag >>= 7
        size += 1
    return size


def _field(data: bytes | None) -> int:
    """A length-prefixed key, value or header value; null is the varint -1 alone."""
    return 1 if data is None else varint_size(len(data)) + len(data)


def one_record_batch(key: bytes | None, value: bytes | None,
                     headers: Sequence[tuple[str, bytes | None]] | None = None) -> int:
    """Bytes of a v2 batch holding only this record: its offset and timestamp deltas are 0 (one byte each)."""
    body = 1 + 1 + 1 + _field(key) + _field(value) + varint_size(len(headers or ()))  # attributes, two deltas
    for name, data in headers or ():
        encoded = name.encode()
        body += varint_size(len(encoded)) + len(encoded) + _field(data)
    return BATCH_OVERHEAD + varint_size(body) + body

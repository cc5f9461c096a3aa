# -*- coding: utf-8 -*-
# Copyright: ambari_kafka.mirroring contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""to_java_properties: a dict as a Java .properties file, escaped as java.util.Properties.store(OutputStream) does.

Kafka (and MirrorMaker) read client property files with Properties.load(InputStream), in ISO 8859-1 (Utils.loadProps,
apache/kafka 3.9): so every character outside printable ASCII is written as a \\uXXXX escape of its UTF-16 code
units, as store(OutputStream) does (openjdk/jdk, java.util.Properties.saveConvert). A value can then never end a line
early, continue onto the next one or start a property of its own, whatever it holds.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

# saveConvert's escapes; '=' ':' '#' '!' are escaped wherever they appear, keys or values.
_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\f": "\\f",
            "=": "\\=", ":": "\\:", "#": "\\#", "!": "\\!"}


def _escape(text: str, is_key: bool) -> str:
    out = []
    for index, char in enumerate(text):
        if char == " ":
            # store escapes a key's spaces and a value's leading space. A value's trailing spaces are escaped too:
            # load keeps them either way, and kafka-mirror's reader drops only unescaped trailing whitespace.
            escaped = is_key or index == 0 or not text[index:].strip(" ")
            out.append("\\ " if escaped else " ")
        elif char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif " " < char < "\x7f":
            out.append(char)
        else:
            units = char.encode("utf-16-be", "surrogatepass")  # a character beyond U+FFFF is two escapes
            out.extend(f"\\u{units[i:i + 2].hex().upper()}" for i in range(0, len(units), 2))
    return "".join(out)


def _text(name: str, value: object) -> str:
    if isinstance(value, bool):  # YAML's true is Java's "true", not Python's "True"
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    what = "no value" if value is None else f"a {type(value).__name__}"
    raise AnsibleFilterError(f"to_java_properties: property {name!r} has {what}; a property's value is a string, "
                             "number or boolean (quote it in YAML, for example '\"\"' for an empty value)")


def to_java_properties(properties: Mapping) -> str:
    """One `key=value` line per property, sorted by key, each ending with a newline."""
    if not isinstance(properties, Mapping):
        raise AnsibleFilterError(f"to_java_properties expects a dict of properties, got a {type(properties).__name__}")
    lines = []
    for key in sorted(properties, key=str):
        lines.append(f"{_escape(str(key), True)}={_escape(_text(str(key), properties[key]), False)}\n")
    return "".join(lines)


class FilterModule:
    def filters(self):
        return {"to_java_properties": to_java_properties}

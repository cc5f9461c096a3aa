"""sasl.jaas.config read as Kafka's Java clients read it.

apache/kafka clients/src/main/java/org/apache/kafka/common/security/JaasConfig.java tokenizes the value with
java.io.StreamTokenizer (word characters 32-128 and 160-255, blanks up to 32, `;` and `=` ordinary, `"` and `'`
quotes with backslash escapes, `/` a comment, `//` and `/* */` comments) and parses `<module> <flag> (<key>=<value>)*;`.
JaasContext.loadClientContext then wants exactly one login module. This is that tokenizer and parser, so that a
line Java accepts gives kafka-mirror the same options, and a line Java refuses is refused here too.
"""
from __future__ import annotations

WORD, QUOTE, EOF = "word", "quote", "eof"
FLAGS = ("REQUIRED", "REQUISITE", "SUFFICIENT", "OPTIONAL")
ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
LINE_ENDS = "\n\r"


class JaasError(ValueError):
    """What Java's JaasConfig would refuse, in its words, without the line's text (it may hold a secret)."""


def _is_blank(c: str) -> bool:
    return ord(c) <= 32


def _is_word(c: str) -> bool:
    code = ord(c)
    return (32 < code <= 128 or 160 <= code) and c not in ";=\"'/"


def tokens(text: str) -> list[tuple[str, str | None]]:
    """(kind, text) per token: words and quoted strings carry their text, an ordinary character is its own kind."""
    out: list[tuple[str, str | None]] = []
    i, n = 0, len(text)
    while True:
        while i < n and _is_blank(text[i]):
            i += 1
        if i >= n:
            out.append((EOF, None))
            return out
        c = text[i]
        if _is_word(c):
            start = i
            while i < n and _is_word(text[i]):
                i += 1
            out.append((WORD, text[start:i]))
        elif c in "\"'":
            i, value = _quoted(text, i + 1, c)
            out.append((QUOTE, value))
        elif c == "/":
            if text.startswith("/*", i):
                end = text.find("*/", i + 2)
                if end < 0:  # an unterminated comment ends the input
                    out.append((EOF, None))
                    return out
                i = end + 2
            else:  # `//`, or `/` (a comment character) and the character after it, whatever it is: to a line end
                i += 2
                while i < n and text[i] not in LINE_ENDS:
                    i += 1
        else:
            out.append((c, None))
            i += 1


def _quoted(text: str, i: int, quote: str) -> tuple[int, str]:
    """A quoted string from i (after its quote): it ends at the same quote, a line end (kept for the next token) or
    the input's end."""
    value: list[str] = []
    n = len(text)
    while i < n and text[i] != quote and text[i] not in LINE_ENDS:
        if text[i] != "\\":
            value.append(text[i])
            i += 1
            continue
        i += 1
        if i >= n:  # Java appends the end of input read as a character
            value.append("\uffff")
            break
        c = text[i]
        if "0" <= c <= "7":  # octal: three digits when the first is 0-3, else two
            digits = 3 if c <= "3" else 2
            j = i
            while j < n and j - i < digits and "0" <= text[j] <= "7":
                j += 1
            value.append(chr(int(text[i:j], 8)))
            i = j
        else:
            value.append(ESCAPES.get(c, c))
            i += 1
    if i < n and text[i] == quote:
        i += 1
    return i, "".join(value)


def login_options(text: str) -> tuple[str, dict[str, str]]:
    """The one login module of a sasl.jaas.config value and its options, or JaasError."""
    toks = tokens(text)
    pos = 0
    entries: list[tuple[str, dict[str, str]]] = []
    while toks[pos][0] != EOF:
        module = toks[pos][1]
        if not module:  # AppConfigurationEntry refuses it
            raise JaasError("Login module not specified in JAAS config")
        pos += 1
        if toks[pos][0] == EOF:
            raise JaasError("Login module control flag not specified in JAAS config")
        flag = toks[pos][1]
        if flag is None or flag.upper() not in FLAGS:
            raise JaasError("Invalid login module control flag in JAAS config (required, requisite, sufficient, optional)")
        options: dict[str, str] = {}
        pos += 1
        while toks[pos][0] not in (EOF, ";"):
            key = toks[pos][1]
            if toks[pos + 1][0] != "=" or toks[pos + 2][0] == EOF or toks[pos + 2][1] is None:
                raise JaasError("Value not specified for a key in JAAS config")  # the key may be a misplaced secret
            if key is not None:  # Java keeps it under a null name, which no login module reads
                options[key] = toks[pos + 2][1]
            pos += 3
        if toks[pos][0] != ";":
            raise JaasError("JAAS config entry not terminated by semi-colon")
        pos += 1
        entries.append((module, options))
    if len(entries) != 1:
        raise JaasError(f"JAAS config property contains {len(entries)} login modules, should be 1 module")
    return entries[0]

# -*- coding: utf-8 -*-
# Copyright: ambari_kafka.mirroring contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure functions: what a config type should become, and how to show it. No I/O here, so check mode and the real
run compute the same change, and all of it is unit-tested."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MASK = "********"
DEFAULT_MARKER = "# {mark} ANSIBLE MANAGED BLOCK"
UPDATE_ON_CREATE, UPDATE_ALWAYS = "on_create", "always"
# What makes a name a secret's, for property names and for the names of assignments inside values alike: a word
# among these anywhere in it, or `key` as its last part (ssl.key, AZURE_STORAGE_KEY). Ambari's PASSWORD-typed
# properties come on top.
_SECRET_WORDS = r"pass|pwd|secret|token|credential|keytab|private|jaas"
SECRET_NAME = re.compile(r"(?:%s)|(?:^|[._-])key$" % _SECRET_WORDS, re.I)
# The same names as they occur in text: a name of [\w.-] characters holding one of the words, or ending in key. The
# test is a lookahead (atomic in Python's re) so that a long run of name characters is scanned once, not backtracked
# through from every word in it.
_SECRET_NAME_IN_TEXT = r"(?=[\w.\-]*?(?:%s)|(?:[\w.\-]*[._\-])?key(?![\w.\-]))[\w.\-]+" % _SECRET_WORDS
# A value: \"...\" (quoted inside a quoted shell string), "..." with backslash escapes, '...', else the whole token;
# an unquoted token keeps only a quote that ends it (the one closing an outer string), so ab'cd is masked whole.
_SECRET_VALUE = r"""\\"(?:(?!\\").)*\\"|\\'(?:(?!\\').)*\\'|"(?:[^"\\\n]|\\.)*"|'[^'\n]*'|(?:[^\s"']|["'](?=\S))+"""
# `name=value` or `name: value` anywhere in a line whose name says secret: `export X_PASSWORD=...`,
# `-Djavax.net.ssl.trustStorePassword=...` inside KAFKA_OPTS, `password="..."` of a one-line JAAS entry, and
# `"password": "..."` of JSON. Also `-storepass X`/`--password X` options, a space-separated `ssl.keystore.password
# X` and `-u user:pw`; the password of `scheme://user:pw@host` is URL_PASSWORD's.
SECRET_ASSIGNMENT = re.compile(
    r"""((?:^|(?<=[\s"'=;,{(]))-{0,2}(?:%s)["']?[ \t]*[=: \t][ \t]*|(?:^|(?<=\s))-u[ \t]+[^:\s]+:)(%s)"""
    % (_SECRET_NAME_IN_TEXT, _SECRET_VALUE), re.I)
URL_PASSWORD = re.compile(r"(://[^:/\s@]+:)([^@\s/]+)(?=@)")
# XML in content templates (Hadoop-style *-site.xml, Ranger policy manager SSL files): a property whose <name> is a
# secret's, `<name>...password</name> <value>x</value>` (the value right after the name, on the same or a later
# line), and an element named like a secret, `<password>x</password>`, `<ns:password>`; text or CDATA. Any name
# matches here; _masked_element keeps the ones SECRET_NAME does not take (a name pattern inside the regex would
# backtrack quadratically on long runs of name characters).
# A CDATA section never runs over the start of another, so an unclosed one is scanned once, not to the end each time.
_XML_TEXT = r"(\s*<!\[CDATA\[(?:[^\]<]|<(?!!\[CDATA\[)|\](?!\]>))*\]\]>\s*|\s*[^\s<][^<]*)"
XML_ELEMENT = re.compile(
    r"""(<name\s*>\s*([\w.:\-]+)\s*</name\s*>\s*<value(?:\s[^<>]*)?>)%s(?=</value)"""
    r"""|(<([\w.:\-]+)(?:\s[^<>]*)?>)%s(?=</\5\s*>)""" % (_XML_TEXT, _XML_TEXT), re.I | re.S)
# Config types whose values are secrets as a whole (kafka_jaas_conf, kafka_client_jaas_conf: keytabs, passwords).
WHOLE_SECRET_TYPE = re.compile(r"jaas", re.I)


class ChangeError(ValueError):
    """Input the plan cannot use; the message names what was wrong and what to do."""


# --- Ambari's password references (SecretReference) ----------------------------------------------------


def is_reference(value):
    """`SECRET:<type>:<version>:<name>`: what Ambari returns for a password property (SecretReference.isSecret)."""
    if not isinstance(value, str):
        return False
    parts = value.split(":")
    return len(parts) == 4 and parts[0] == "SECRET"


def same_value(a, b):
    """Equal as Ambari holds them: two references are the same secret whatever version they were read at."""
    if is_reference(a) and is_reference(b):
        return a.split(":")[1::2] == b.split(":")[1::2]  # type and name
    return a == b


# --- values ----------------------------------------------------------------------------------------------


def normalize(value):
    """A value as Ambari stores it: every scalar is a string (JSON asText), booleans lower-case; None = remove."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def check_scalars(option, values):
    """Every value a string, number, boolean or null: Ambari would store a dict or list as its text."""
    for key, value in (values or {}).items():
        if isinstance(value, (dict, list, tuple, set)):
            raise ChangeError("%s.%s is a %s; Ambari stores every property as one string: give a string, number, "
                              "boolean or null (to remove it)" % (option, key, type(value).__name__))


# --- managed blocks ------------------------------------------------------------------------------------


def block_markers(marker):
    """The BEGIN and END lines of a marker template; it must hold {mark} and be one line."""
    if "{mark}" not in marker:
        raise ChangeError("marker %r has no {mark}: BEGIN and END lines would be the same, and the block would be "
                          "added again on every run. Put {mark} where BEGIN and END go, e.g. '# {mark} my block'"
                          % marker)
    if "\n" in marker or "\r" in marker:
        raise ChangeError("marker %r spans several lines; a marker is one line" % marker)
    return marker.replace("{mark}", "BEGIN"), marker.replace("{mark}", "END")


def find_blocks(lines, begin, end, where="the value"):
    """[(begin index, end index)] of the balanced blocks; an orphan BEGIN or END is an error naming its line."""
    pairs, opened = [], None
    for i, line in enumerate(lines):
        if line == begin:
            if opened is not None:
                raise ChangeError("%s has marker line %r at line %d without its END (%r) before the next BEGIN at "
                                  "line %d; fix the markers in Ambari first" % (where, begin, opened + 1, end, i + 1))
            opened = i
        elif line == end:
            if opened is None:
                raise ChangeError("%s has marker line %r at line %d without a BEGIN (%r) before it; fix the markers in "
                                  "Ambari first" % (where, end, i + 1, begin))
            pairs.append((opened, i))
            opened = None
    if opened is not None:
        raise ChangeError("%s has marker line %r at line %d without its END (%r); fix the markers in Ambari first"
                          % (where, begin, opened + 1, end))
    return pairs


def apply_block(text, block, marker=DEFAULT_MARKER, state="present", insertafter=None, insertbefore=None,
                where="the value"):
    """blockinfile for a multi-line property: the block between marker lines is inserted, replaced or removed.

    Args:
        text: the property's current value ("" when absent).
        block: the lines to manage (without markers).
        marker: a one-line template holding "{mark}", replaced by BEGIN and END.
        state: "present" or "absent".
        insertafter / insertbefore: a regex; where a new block goes (default: the end).
        where: how messages name the property.

    Returns:
        The new value; equal to `text` when nothing changes. As blockinfile, the last block is the one managed.

    Raises:
        ChangeError: the marker has no {mark}, the text has a BEGIN or END without its partner, or the block holds
            a marker line itself.
    """
    begin, end = block_markers(marker)
    after, before = _pattern("insertafter", insertafter, "EOF"), _pattern("insertbefore", insertbefore, "BOF")
    lines = text.split("\n") if text else []
    trailing = text.endswith("\n")
    if trailing:
        lines = lines[:-1]
    inner = block.rstrip("\n").split("\n") if block.strip() else []
    for n, line in enumerate(inner, start=1):
        if line.strip() in (begin.strip(), end.strip()):
            raise ChangeError("the block for %s holds its own marker line %r (its line %d): the next run would take "
                              "the block to end or begin there. Use another marker, or leave that line out"
                              % (where, line, n))
    wanted = [begin] + inner + [end]
    blocks = find_blocks(lines, begin, end, where)
    if blocks:
        start, stop = blocks[-1]
        lines[start:stop + 1] = wanted if state == "present" else []
    elif state == "present":
        at = _insert_at(lines, after, before)
        lines[at:at] = wanted
    else:
        return text
    if not lines:
        return ""
    return "\n".join(lines) + ("\n" if trailing or not text else "")


def _pattern(option, value, keyword):
    """A regex option as blockinfile takes it (or its keyword EOF/BOF); checked whether or not it is needed now."""
    if not value or value == keyword:
        return value or None
    try:
        return re.compile(value)
    except re.error as exc:
        raise ChangeError("%s %r is not a valid regular expression (%s); give a Python regex matching the line "
                          "to insert at, or %s" % (option, value, exc, keyword))


def _insert_at(lines, after, before):
    if before == "BOF":
        return 0
    if before is not None:
        hits = [i for i, line in enumerate(lines) if before.search(line)]
        if hits:
            return hits[0]
    if after is not None and after != "EOF":
        hits = [i for i, line in enumerate(lines) if after.search(line)]
        if hits:
            return hits[-1] + 1
    return len(lines)


# --- the plan --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PropertyChange:
    """Before and after of one property map (a config type, or a config group's overrides).

    `unverified` names secrets given in plaintext for properties Ambari holds only as references: with
    update_password=on_create they are kept as they are (not a change); with always they are sent and count as a
    possible change, which Ambari's own comparison settles. `secret_blocks` holds (property, BEGIN, END) of the
    managed blocks whose lines are secrets: masked in any output, before and after.
    """

    before: dict
    after: dict
    secret_keys: frozenset = field(default_factory=frozenset)
    whole_values_secret: bool = False
    unverified: frozenset = field(default_factory=frozenset)
    secret_blocks: frozenset = field(default_factory=frozenset)

    @property
    def changed_keys(self):
        keys = set(self.before) | set(self.after)
        return sorted(k for k in keys if k not in self.before or k not in self.after
                      or not same_value(self.before[k], self.after[k]))

    @property
    def changed(self):
        return bool(self.changed_keys)

    def diff(self, header):
        """Ansible's diff dict, changed properties only, secrets masked."""
        keys = self.changed_keys
        return {"before_header": header, "after_header": header,
                "before": render(self.before, keys, self.secret_keys, self.whole_values_secret, self.secret_blocks),
                "after": render(self.after, keys, self.secret_keys, self.whole_values_secret, self.secret_blocks)}


def plan_properties(current, properties, blocks=(), secret_keys=frozenset(), secrets=None,
                    update_password=UPDATE_ON_CREATE, whole_values_secret=False):
    """What the property map becomes: `properties` and `secrets` set (None removes), then each block applied.

    Args:
        current: the properties as Ambari returned them (strings; password properties as SECRET references).
        properties: name -> value; values normalised as Ambari stores them; None removes the property.
        blocks: dicts with property, block, marker, state, insertafter, insertbefore, and secret (true: the
            block's lines are secrets, masked in any output).
        secret_keys: names Ambari marks as passwords (masked in any output).
        secrets: like `properties`, for values that are secrets (masked, compared as update_password says).
        update_password: on_create: a plaintext secret for a property Ambari holds as a reference is not
            written (it cannot be compared); always: it is written.
        whole_values_secret: every value of this config type is a secret (JAAS types).
    """
    check_scalars("properties", properties)
    check_scalars("secret_properties", secrets)
    both = sorted(set(properties or {}) & set(secrets or {}))
    if both:
        raise ChangeError("%s given both in properties and in secret_properties; give each property once"
                          % ", ".join(both))
    after = dict(current)
    unverified = set()
    for key, value in list((properties or {}).items()) + list((secrets or {}).items()):
        value = normalize(value)
        if value is None:
            after.pop(key, None)
        elif is_reference(after.get(key)) and not is_reference(value):
            unverified.add(key)
            if update_password == UPDATE_ALWAYS:
                after[key] = value
        elif not same_value(after.get(key), value):
            after[key] = value
    secret_blocks = set()
    for b in blocks:
        marker = b.get("marker") or DEFAULT_MARKER
        where = "%s (managed block %r)" % (b["property"], marker)
        base = after.get(b["property"], "")
        new = apply_block(base, b.get("block") or "", marker, b.get("state") or "present",
                          b.get("insertafter"), b.get("insertbefore"), where)
        if new or b["property"] in after:
            after[b["property"]] = new
        if b.get("secret"):
            secret_blocks.add((b["property"],) + block_markers(marker))
    return PropertyChange(dict(current), after, frozenset(secret_keys) | frozenset(secrets or ()),
                          whole_values_secret, frozenset(unverified), frozenset(secret_blocks))


# --- showing values --------------------------------------------------------------------------------------


def is_secret(key, secret_keys=frozenset()):
    return key in secret_keys or bool(SECRET_NAME.search(key))


def looks_secret(text):
    """Whether lines hold what mask() would mask: `...password=x`, `-storepass x`, `scheme://user:pw@host`."""
    if not text:
        return False
    return bool(SECRET_ASSIGNMENT.search(text) or URL_PASSWORD.search(text)) or _holds_secret_element(text)


def mask(key, value, secret_keys=frozenset(), whole=False, secret_blocks=frozenset()):
    """A value fit for output: secrets, references and JAAS values masked whole; the lines of secret blocks masked;
    secret assignments in lines masked."""
    if not value:
        return value
    if whole or is_secret(key, secret_keys) or is_reference(value):
        return MASK
    for prop, begin, end in sorted(secret_blocks):
        if prop == key:
            value = mask_block_lines(value, begin, end)
    value = XML_ELEMENT.sub(_masked_element, value)
    return URL_PASSWORD.sub(_masked_assignment, SECRET_ASSIGNMENT.sub(_masked_assignment, value))


def mask_block_lines(value, begin, end):
    """The lines between BEGIN and END as one MASK line (not even their number shows); an unclosed BEGIN masks to
    the end, so that a value with broken markers shows less, never more."""
    out, inside = [], False
    for line in value.split("\n"):
        if line == begin:
            inside = True
        elif line == end:
            inside = False
        elif inside:
            if out[-1:] != [MASK]:
                out.append(MASK)
            continue
        out.append(line)
    return "\n".join(out)


def _secret_element(match):
    return bool(SECRET_NAME.search(match.group(2) or match.group(5)))


def _masked_element(match):
    """A secret element's text masked, its tags kept; any other element with the secrets inside its text (a CDATA
    section may hold XML) masked. A CDATA section never holds another, so this goes one level deep."""
    head = match.group(1) or match.group(4)
    if _secret_element(match):
        return head + MASK
    return head + XML_ELEMENT.sub(_masked_element, match.group(3) or match.group(6))


def _holds_secret_element(text):
    return any(_secret_element(m) or _holds_secret_element(m.group(3) or m.group(6))
               for m in XML_ELEMENT.finditer(text))


def _masked_assignment(match):
    """The value masked whole; the quotes around it (\\" or " or ') kept, so that the line still reads."""
    value = match.group(2)
    quote = next((q for q in ('\\"', "\\'", '"', "'") if len(value) >= 2 * len(q) and value.startswith(q)
                  and value.endswith(q)), "")
    return match.group(1) + quote + MASK + quote


def render(props, keys, secret_keys=frozenset(), whole=False, secret_blocks=frozenset()):
    """key=value lines; a multi-line value as 'key:' and its lines indented, so a diff shows which lines move."""
    out = []
    for key in keys:
        if key not in props:
            continue
        value = mask(key, props[key], secret_keys, whole, secret_blocks)
        if "\n" in value:
            out.append("%s:" % key)
            out.extend("    " + line for line in value.rstrip("\n").split("\n"))
        else:
            out.append("%s=%s" % (key, value))
    return "\n".join(out) + ("\n" if out else "")


def password_keys(properties_attributes, config_type_secrets=()):
    """Names under Ambari's `password` attribute: Ambari returns all of them as references, whatever the value."""
    marked = (properties_attributes or {}).get("password") or {}
    return frozenset(list(marked) + list(config_type_secrets))


def attributes_for_write(attrs, after, secret_names):
    """properties_attributes to send with `after`.

    Secrets and every property sent as a reference are marked password "true": Ambari then keeps the secret out
    of its answers, and resolves a reference to the stored value (updateCluster resolves only under "true";
    anything else would be stored as the reference's text). Attributes of removed properties are dropped.
    """
    out = {kind: {k: v for k, v in names.items() if k in after} for kind, names in (attrs or {}).items()}
    marked = {k for k in after if k in secret_names or is_reference(after[k])}
    if marked:
        out.setdefault("password", {}).update((k, "true") for k in marked)
    return out

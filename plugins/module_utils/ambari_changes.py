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
# Property names whose values are secrets, beside those Ambari itself types as PASSWORD.
SECRET_NAME = re.compile(r"(password|passwd|secret|token|credential|keytab|private|(^|[._])key$|jaas)", re.I)
# Assignment lines inside multi-line values (kafka-env content) that carry a secret.
SECRET_LINE = re.compile(r"^(\s*(?:export\s+)?[\w.\-]*(?:password|passwd|secret|token)[\w.\-]*\s*[=:]\s*)(\S.*)$",
                         re.I)


def normalize(value):
    """A value as Ambari stores it: every scalar is a string (JSON asText), booleans lower-case; None = remove."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def apply_block(text, block, marker=DEFAULT_MARKER, state="present", insertafter=None, insertbefore=None):
    """blockinfile for a multi-line property: the block between marker lines is inserted, replaced or removed.

    Args:
        text: the property's current value ("" when absent).
        block: the lines to manage (without markers).
        marker: a line template with "{mark}", replaced by BEGIN and END.
        state: "present" or "absent".
        insertafter / insertbefore: a regex; where a new block goes (default: the end).

    Returns:
        The new value; equal to `text` when nothing changes.
    """
    begin, end = marker.replace("{mark}", "BEGIN"), marker.replace("{mark}", "END")
    lines = text.split("\n") if text else []
    trailing = text.endswith("\n")
    if trailing:
        lines = lines[:-1]
    wanted = [begin] + block.rstrip("\n").split("\n") + [end] if block.strip() else [begin, end]
    if begin in lines and end in lines[lines.index(begin):]:
        start = lines.index(begin)
        stop = lines.index(end, start)
        lines[start:stop + 1] = wanted if state == "present" else []
    elif state == "present":
        at = _insert_at(lines, insertafter, insertbefore)
        lines[at:at] = wanted
    else:
        return text
    if not lines:
        return ""
    return "\n".join(lines) + ("\n" if trailing or not text else "")


def _insert_at(lines, insertafter, insertbefore):
    if insertbefore and insertbefore != "BOF":
        hits = [i for i, line in enumerate(lines) if re.search(insertbefore, line)]
        if hits:
            return hits[0]
    if insertbefore == "BOF":
        return 0
    if insertafter and insertafter != "EOF":
        hits = [i for i, line in enumerate(lines) if re.search(insertafter, line)]
        if hits:
            return hits[-1] + 1
    return len(lines)


@dataclass(frozen=True)
class PropertyChange:
    """Before and after of one property map (a config type, or a config group's overrides)."""

    before: dict
    after: dict
    secret_keys: frozenset = field(default_factory=frozenset)

    @property
    def changed_keys(self):
        keys = set(self.before) | set(self.after)
        return sorted(k for k in keys if self.before.get(k) != self.after.get(k))

    @property
    def changed(self):
        return bool(self.changed_keys)

    def diff(self, header):
        """Ansible's diff dict, changed properties only, secrets masked."""
        keys = self.changed_keys
        return {"before_header": header, "after_header": header,
                "before": render(self.before, keys, self.secret_keys),
                "after": render(self.after, keys, self.secret_keys)}

    def masked_after(self):
        return {k: mask(k, v, self.secret_keys) for k, v in sorted(self.after.items())}


def plan_properties(current, properties, blocks=(), secret_keys=frozenset()):
    """What the property map becomes: `properties` set (None removes), then each managed block applied.

    Args:
        current: the properties in force (strings).
        properties: name -> value; values normalised as Ambari stores them; None removes the property.
        blocks: dicts with property, block, marker, state, insertafter, insertbefore.
        secret_keys: names Ambari types as PASSWORD (masked in any output).
    """
    after = dict(current)
    for key, value in (properties or {}).items():
        value = normalize(value)
        if value is None:
            after.pop(key, None)
        else:
            after[key] = value
    for b in blocks:
        base = after.get(b["property"], "")
        new = apply_block(base, b.get("block") or "", b.get("marker") or DEFAULT_MARKER, b.get("state", "present"),
                          b.get("insertafter"), b.get("insertbefore"))
        if new or b["property"] in after:
            after[b["property"]] = new
    return PropertyChange(dict(current), after, frozenset(secret_keys))


def is_secret(key, secret_keys=frozenset()):
    return key in secret_keys or bool(SECRET_NAME.search(key))


def mask(key, value, secret_keys=frozenset()):
    """A value fit for output: secrets and Ambari's SECRET: references masked, secret lines masked."""
    if value is None:
        return None
    if is_secret(key, secret_keys) or value.startswith("SECRET:"):
        return MASK
    if "\n" in value:
        return "\n".join(SECRET_LINE.sub(lambda m: m.group(1) + MASK, line) for line in value.split("\n"))
    return value


def render(props, keys, secret_keys=frozenset()):
    """key=value lines; a multi-line value as 'key:' and its lines indented, so a diff shows which lines move."""
    out = []
    for key in keys:
        if key not in props:
            continue
        value = mask(key, props[key], secret_keys)
        if "\n" in value:
            out.append("%s:" % key)
            out.extend("    " + line for line in value.rstrip("\n").split("\n"))
        else:
            out.append("%s=%s" % (key, value))
    return "\n".join(out) + ("\n" if out else "")


def password_keys(properties_attributes, config_type_secrets=()):
    """Names Ambari marks as passwords in properties_attributes (attribute 'password' = true)."""
    marked = (properties_attributes or {}).get("password") or {}
    return frozenset([k for k, v in marked.items() if str(v).lower() == "true"] + list(config_type_secrets))

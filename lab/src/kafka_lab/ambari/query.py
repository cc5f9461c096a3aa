"""Ambari's query language: predicates (§2.5) and partial responses with `fields` (§2.4)."""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import unquote

# Query parameters that are not predicates (QueryLexer.SET_IGNORE).
IGNORED_PARAMS = ("fields", "format", "page_size", "from", "to", "minimal_response", "sortBy", "doAs", "_")


class QueryError(Exception):
    """400: the predicate cannot be compiled, or names unsupported properties."""


Predicate = Callable[[Callable[[str], list[Any]]], bool]


@dataclass
class Query:
    fields: list[str] | None
    predicate: Predicate | None
    predicate_props: list[str]
    minimal: bool = False
    params: dict[str, str] = field(default_factory=dict)
    tree: "Node | None" = None

    def property_maps(self) -> list[dict[str, str]]:
        """What a provider without predicate evaluation sees (AbstractResourceProvider.getPropertyMaps)."""
        return property_maps(self.tree)


def parse_query(raw: str) -> Query:
    """Split a raw query string into ignored parameters (fields, ...) and a predicate."""
    params: dict[str, str] = {}
    rest: list[str] = []
    for part in raw.split("&") if raw else []:
        name = part.split("=", 1)[0]
        if name in IGNORED_PARAMS:
            params[name] = unquote(part.split("=", 1)[1]) if "=" in part else ""
        else:
            rest.append(part)
    text = unquote("&".join(rest))
    fields = [f.strip() for f in params["fields"].split(",") if f.strip()] if "fields" in params else None
    tree, props = (None, []) if not text else _Parser(text).parse()
    predicate = None if tree is None else _compile(tree)
    return Query(fields, predicate, props, params.get("minimal_response") == "true", params, tree)


# --- the predicate tree: ("cmp", prop, op, value) | ("empty", prop) | ("not", node) | ("and"|"or", [nodes]) ---

Node = tuple


def _compile(node: Node) -> Predicate:
    kind = node[0]
    if kind == "cmp":
        return _compare(node[1], node[2], node[3])
    if kind == "empty":
        prop = node[1]
        return lambda get: not any(v not in (None, "", [], {}) for v in get(prop))
    if kind == "not":
        inner = _compile(node[1])
        return lambda get: not inner(get)
    parts = tuple(_compile(n) for n in node[1])
    if kind == "and":
        return lambda get: all(p(get) for p in parts)
    return lambda get: any(p(get) for p in parts)


ALWAYS: Node = ("always",)


def _simplify(node: Node) -> Node:
    """SimplifyingPredicateVisitor: equals kept, other comparisons always true, ORs under an AND distributed."""
    kind = node[0]
    if kind == "cmp":
        return node if node[2] == "=" else ALWAYS
    if kind in ("not", "empty", "always"):  # unary and category predicates are kept as they are
        return node
    children = [_simplify(n) for n in node[1]]
    if kind == "and" and any(c[0] == "or" for c in children):
        pairs: list[Node] = []
        for i in range(len(children)):
            for j in range(i + 1, len(children)):
                pairs.extend(_distribute(children[i], children[j]))
        return ("or", pairs)
    return (kind, children)


def _distribute(left: Node, right: Node) -> list[Node]:
    if left[0] == "or":
        return _distribute_or(left, right)
    if right[0] == "or":
        return _distribute_or(right, left)
    return [left if left == right else ("and", [left, right])]


def _distribute_or(or_node: Node, other: Node) -> list[Node]:
    out: list[Node] = []
    for base in or_node[1]:
        if other[0] == "or":
            out.extend(_distribute_or(other, base))
        else:
            out.append(base if base == other else ("and", [base, other]))
    return out


def _properties(node: Node, out: dict[str, str]) -> dict[str, str]:
    """PropertyPredicateVisitor: every comparison's property and value; unary/category/always add nothing."""
    if node[0] == "cmp":
        out[node[1]] = node[3]
    elif node[0] in ("and", "or"):
        for child in node[1]:
            _properties(child, out)
    return out


def property_maps(tree: Node | None) -> list[dict[str, str]]:
    """One map per disjunct of the simplified predicate; no predicate is one empty map (select all)."""
    if tree is None:
        return [{}]
    top = _simplify(tree)
    disjuncts = top[1] if top[0] == "or" else [top]
    return [_properties(d, {}) for d in disjuncts]


_TOKEN = re.compile(r"\s*(!=|<=|>=|=|<|>|&|\||!|\(|\))")


class _Parser:
    """Recursive descent: or := and ('|' and)*; and := not ('&' not)*; not := '!' not | atom."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.props: list[str] = []

    def parse(self) -> tuple[Node, list[str]]:
        tree = self._or()
        if self.pos != len(self.text):
            self._fail(f"unexpected '{self.text[self.pos:]}'")
        return tree, self.props

    def _fail(self, why: str) -> None:
        raise QueryError(f"Unable to compile query predicate: {why} in '{self.text}'")

    def _peek(self, s: str) -> bool:
        return self.text.startswith(s, self.pos)

    def _or(self) -> Node:
        parts = [self._and()]
        while self._peek("|"):
            self.pos += 1
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else ("or", parts)

    def _and(self) -> Node:
        parts = [self._not()]
        while self._peek("&"):
            self.pos += 1
            parts.append(self._not())
        return parts[0] if len(parts) == 1 else ("and", parts)

    def _not(self) -> Node:
        if self._peek("!") and not self._peek("!="):
            self.pos += 1
            return ("not", self._not())
        if self._peek("("):
            self.pos += 1
            inner = self._or()
            if not self._peek(")"):
                self._fail("missing ')'")
            self.pos += 1
            return inner
        return self._comparison()

    def _comparison(self) -> Node:
        m = re.compile(r"[A-Za-z0-9_/.\-*]+").match(self.text, self.pos)
        if not m:
            self._fail(f"expected a property name at position {self.pos}")
        name = m.group(0)
        self.pos = m.end()
        if name.endswith(".isEmpty") and self._peek("()"):
            prop = name[: -len(".isEmpty")]
            self.pos += 2
            self.props.append(prop)
            return ("empty", prop)
        if name.endswith(".in") and self._peek("("):
            prop = name[: -len(".in")]
            end = self.text.find(")", self.pos)
            if end < 0:
                self._fail("missing ')' after .in(")
            values = [v.strip() for v in self.text[self.pos + 1:end].split(",")]
            self.pos = end + 1
            self.props.append(prop)
            # QueryLexer expands .in(a,b) to (p=a|p=b).
            equals = [("cmp", prop, "=", v) for v in values]
            return equals[0] if len(equals) == 1 else ("or", equals)
        op = _TOKEN.match(self.text, self.pos)
        if not op or op.group(1) not in ("=", "!=", "<", ">", "<=", ">="):
            self._fail(f"expected an operator after '{name}'")
        self.pos = op.end()
        vm = re.compile(r"[^&|()]*").match(self.text, self.pos)
        value = vm.group(0)
        self.pos = vm.end()
        self.props.append(name)
        return ("cmp", name, op.group(1), value)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _compare(prop: str, op: str, value: str) -> Predicate:
    def num(v: Any) -> float | None:
        try:
            return float(v)
        except (TypeError, ValueError):
            return None

    def test(v: Any) -> bool:
        if op in ("=", "!="):
            return (_text(v) == value) == (op == "=")
        a, b = num(v), num(value)
        left, right = (a, b) if a is not None and b is not None else (_text(v), value)
        return {"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[op]

    if op == "!=":
        return lambda get: not any(_text(v) == value for v in get(prop))
    return lambda get: any(test(v) for v in get(prop))


# --- resources and partial responses -------------------------------------------------------------


@dataclass
class Resource:
    """One Ambari resource: its properties (nested by category), keys, href and sub-resources."""

    href: str
    props: dict[str, Any]
    keys: list[str]
    subs: dict[str, Callable[[], list["Resource"]]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # rendered after everything (e.g. "host" link)
    open_prefixes: tuple[str, ...] = ()  # maps whose keys are data, e.g. "properties/"

    def values(self, path: str) -> list[Any]:
        """Every value at a property path, looking into sub-resources (for sub-resource predicates)."""
        parts = path.split("/")
        if parts[0] in self.subs:
            rest = "/".join(parts[1:])
            return [v for child in self.subs[parts[0]]() for v in child.values(rest)] if rest else []
        found, ok = _get(self.props, parts)
        return [found] if ok else []


def _get(obj: Any, parts: list[str]) -> tuple[Any, bool]:
    for part in parts:
        if not isinstance(obj, dict) or part not in obj:
            return None, False
        obj = obj[part]
    return obj, True


def _put(out: dict, parts: list[str], value: Any) -> None:
    value = copy.deepcopy(value)  # never alias the model's own dicts into a response
    for part in parts[:-1]:
        out = out.setdefault(part, {})
    if isinstance(value, dict) and isinstance(out.get(parts[-1]), dict):
        out[parts[-1]].update(value)
    else:
        out[parts[-1]] = value


def known(resource: Resource, path: str) -> bool:
    """Does a fields/predicate path name something this resource type has?"""
    parts = path.split("/")
    if parts[0] in ("*", "href") or parts[0] in resource.subs:
        return True
    if any(path.startswith(prefix) for prefix in resource.open_prefixes):
        return True
    obj = resource.props
    for part in parts:
        if part == "*" or not isinstance(obj, dict):
            return True
        if part not in obj:
            return False
        obj = obj[part]
    return True


def render(resource: Resource, fields: list[str] | None, instance: bool, minimal: bool = False) -> dict:
    """Ambari's partial response: keys always; no fields = everything (instance) or keys (collection)."""
    out: dict[str, Any] = {} if minimal else {"href": resource.href}
    for key in resource.keys:
        value, ok = _get(resource.props, key.split("/"))
        if ok:
            _put(out, key.split("/"), value)
    if fields is None:
        if instance:
            _merge_props(out, resource.props)
            for name, children in resource.subs.items():
                out[name] = [render(c, [], False, minimal) for c in children()]
        out.update(resource.extra)
        return out
    sub_fields: dict[str, list[str]] = {}
    for f in fields:
        parts = f.split("/")
        if parts[0] == "*":
            _merge_props(out, resource.props)
            for name in resource.subs:
                sub_fields.setdefault(name, [])
        elif parts[0] in resource.subs:
            sub_fields.setdefault(parts[0], [])
            if len(parts) > 1:
                sub_fields[parts[0]].append("/".join(parts[1:]))
        else:
            if parts[-1] == "*":  # "Category/*": the whole category
                parts = parts[:-1]
            value, ok = _get(resource.props, parts)
            if ok:
                _put(out, parts, value)
    for name, sub in sub_fields.items():
        out[name] = [render(c, sub or [], False, minimal) for c in resource.subs[name]()]
    out.update(resource.extra)
    return out


def _merge_props(out: dict, props: dict) -> None:
    for key, value in props.items():
        _put(out, [key], value)

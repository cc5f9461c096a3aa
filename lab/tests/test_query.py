"""Ambari predicates and partial responses, as pure functions."""
from __future__ import annotations

import pytest

from kafka_lab.ambari.query import QueryError, Resource, known, parse_query, render


def host(name: str, ip: str, stale: bool) -> Resource:
    comp = Resource(f"/hosts/{name}/host_components/KAFKA_BROKER",
                    {"HostRoles": {"host_name": name, "component_name": "KAFKA_BROKER", "stale_configs": stale}},
                    ["HostRoles/host_name", "HostRoles/component_name"])
    return Resource(f"/hosts/{name}", {"Hosts": {"host_name": name, "ip": ip, "cpu_count": 4}}, ["Hosts/host_name"],
                    subs={"host_components": lambda: [comp]})


HOSTS = [host("a", "10.0.0.1", True), host("b", "10.0.0.2", False), host("c", "10.0.0.3", False)]


def names(raw: str) -> list[str]:
    q = parse_query(raw)
    return [h.props["Hosts"]["host_name"] for h in HOSTS if q.predicate is None or q.predicate(h.values)]


@pytest.mark.parametrize("raw, expected", [
    ("", ["a", "b", "c"]),
    ("Hosts/host_name=a", ["a"]),
    ("Hosts/host_name!=a", ["b", "c"]),
    ("Hosts/host_name=a|Hosts/host_name=c", ["a", "c"]),
    ("Hosts/host_name.in(a,c)", ["a", "c"]),
    ("!(Hosts/host_name=a)", ["b", "c"]),
    ("(Hosts/host_name=a|Hosts/host_name=b)&Hosts/ip=10.0.0.2", ["b"]),
    ("host_components/HostRoles/stale_configs=true", ["a"]),
    ("Hosts/cpu_count>=4", ["a", "b", "c"]),
    ("Hosts/cpu_count<4", []),
    ("fields=Hosts/ip&Hosts/host_name=b", ["b"]),
    ("Hosts/host_name=%61", ["a"]),
])
def test_predicates(raw, expected):
    assert names(raw) == expected


@pytest.mark.parametrize("raw", ["Hosts/host_name.in(a", "(Hosts/host_name=a", "=a", "Hosts/host_name"])
def test_malformed_predicates_raise(raw):
    with pytest.raises(QueryError, match="Unable to compile query predicate"):
        parse_query(raw)


def test_ignored_parameters_are_not_predicates():
    q = parse_query("fields=Hosts/ip,Hosts/cpu_count&minimal_response=true&page_size=10&_=123")
    assert q.predicate is None and q.fields == ["Hosts/ip", "Hosts/cpu_count"] and q.minimal


def test_render_instance_without_fields_has_everything_and_sub_links():
    out = render(HOSTS[0], None, instance=True)
    assert out["Hosts"] == {"host_name": "a", "ip": "10.0.0.1", "cpu_count": 4}
    assert out["host_components"] == [{"href": "/hosts/a/host_components/KAFKA_BROKER",
                                       "HostRoles": {"host_name": "a", "component_name": "KAFKA_BROKER"}}]


def test_render_collection_item_without_fields_has_keys_only():
    assert render(HOSTS[0], [], instance=False) == {"href": "/hosts/a", "Hosts": {"host_name": "a"}}


def test_render_fields_category_star_and_sub_resource_paths():
    out = render(HOSTS[0], ["Hosts/*", "host_components/HostRoles/stale_configs"], instance=False)
    assert out["Hosts"] == {"host_name": "a", "ip": "10.0.0.1", "cpu_count": 4}
    assert out["host_components"][0]["HostRoles"] == {"host_name": "a", "component_name": "KAFKA_BROKER",
                                                      "stale_configs": True}


def test_render_never_aliases_the_resources_dicts():
    out = render(HOSTS[0], None, instance=True)
    out["Hosts"]["ip"] = "changed"
    assert HOSTS[0].props["Hosts"]["ip"] == "10.0.0.1"


def test_known_paths():
    assert known(HOSTS[0], "Hosts/ip") and known(HOSTS[0], "Hosts/*") and known(HOSTS[0], "host_components/x")
    assert not known(HOSTS[0], "Hosts/nonsense")
    configs = Resource("/c", {"properties": {"a": "1"}}, [], open_prefixes=("properties/",))
    assert known(configs, "properties/anything")

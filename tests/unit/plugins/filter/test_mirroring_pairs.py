"""mirroring_pair_problems: every wrong shape of mirroring_pairs is named (entry, what was given, what to give)
before the roles meet it in Jinja; right pairs, including the example fleet's and a pair with no topics yet, pass."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ansible_collections.ambari_kafka.mirroring.plugins.filter.mirroring_pairs import mirroring_pair_problems

ROOT = Path(__file__).resolve().parents[4]
CLUSTERS = ["p1", "s1"]
WORKERS = ["w1"]
GOOD = {"name": "orders", "primary": "p1", "secondary": "s1", "workers": ["w1"],
        "topics": [{"name": "orders", "partitions": 8, "replication_factor": 2, "config": {"retention.ms": 1}}]}


def test_the_example_fleets_pairs_and_a_pair_with_no_topics_yet_are_right():
    fleet = yaml.safe_load((ROOT / "inventory" / "example-fleet" / "group_vars" / "all" / "main.yml").read_text())
    hosts = yaml.safe_load((ROOT / "inventory" / "example-fleet" / "hosts.yml").read_text())["all"]["children"]
    assert mirroring_pair_problems(fleet["mirroring_pairs"], list(hosts["ambari_clusters"]["hosts"]),
                                   list(hosts["mirror_workers"]["hosts"])) == []
    assert mirroring_pair_problems([{"name": "n", "primary": "p1", "secondary": "s1", "topics": []}],
                                   CLUSTERS, WORKERS) == []
    assert mirroring_pair_problems(None) == []


@pytest.mark.parametrize("change, says", [
    ({"topics": None}, "mirroring_pairs[0] (orders): topics is missing; give a list of topics"),
    ({"topics": "orders"}, 'topics is "orders"; give a list of topics'),
    ({"topics": ["orders"]}, 'topics[0] is "orders"; each topic is a dict with name'),
    ({"topics": [{"name": "t", "partitons": 8}]}, 'topics[0] has unknown keys "partitons" (did you mean "partitions"?)'),
    ({"topics": [{"partitions": 8}]}, "topics[0] needs name"),
    ({"topics": [{"name": "t", "partitions": "8"}]}, 'partitions is "8"; give a whole number above 0'),
    ({"topics": [{"name": "t", "replication_factor": 0}]}, "replication_factor is 0; give a whole number above 0"),
    ({"topics": [{"name": "t", "config": "retention.ms=1"}]}, 'config is "retention.ms=1"; give a dict'),
    ({"secondry": "s1", "secondary": None}, 'unknown keys "secondry" (did you mean "secondary"?)'),
    ({"secondary": None}, "needs secondary, a host of ambari_clusters (p1, s1)"),
    ({"primary": "p2"}, "primary p2 is not a host of ambari_clusters (p1, s1); add it there or fix the name"),
    ({"secondary": "p1"}, "primary and secondary are both p1"),
    ({"workers": "w1"}, 'workers is "w1"; give a list of hosts of mirror_workers'),
    ({"workers": ["w2"]}, "workers w2 not hosts of mirror_workers (w1)"),
    ({"name": ""}, "mirroring_pairs[0] needs name"),
    ({"include": ""}, 'include is ""; give a non-empty string or leave it out'),
])
def test_a_wrong_pair_is_named_with_what_to_give(change, says):
    pair = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    problems = mirroring_pair_problems([pair], CLUSTERS, WORKERS)
    assert any(says in p for p in problems), problems


@pytest.mark.parametrize("pairs, says", [
    ({"name": "orders"}, "mirroring_pairs is {\"name\": \"orders\"}; give a list of pairs"),
    (["orders"], 'mirroring_pairs[0] is "orders"; each pair is a dict'),
    ([GOOD, GOOD], "mirroring_pairs[1] (orders): the name orders is also mirroring_pairs[0]'s"),
])
def test_wrong_shapes_of_the_whole_list(pairs, says):
    assert any(says in p for p in mirroring_pair_problems(pairs, CLUSTERS, WORKERS))

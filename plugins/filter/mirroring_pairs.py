# -*- coding: utf-8 -*-
# Copyright: ambari_kafka.mirroring contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""mirroring_pair_problems: what is wrong with the inventory's mirroring_pairs, one sentence per problem.

The roles read mirroring_pairs with Jinja: a pair without topics, a misspelt key or a host the inventory lacks ended
in Jinja's "'dict object' has no attribute ..." somewhere in the run, or in a pair silently not mirrored. Checked
before anything is read or changed, each problem names the entry, what was given and what to give.
"""

from __future__ import annotations

import difflib
import json

PAIR_KEYS = ("name", "primary", "secondary", "topics", "workers", "include", "group")
TOPIC_KEYS = ("name", "partitions", "replication_factor", "config")


def _shown(value) -> str:
    try:
        return json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _unknown(keys, known: tuple[str, ...]) -> list[str]:
    out = []
    for key in sorted(str(k) for k in keys if k not in known):
        close = difflib.get_close_matches(key, known, n=1)
        out.append(f'"{key}" (did you mean "{close[0]}"?)' if close else f'"{key}"')
    return out


def _name(value) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _positive(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _topic_problems(where: str, topics) -> list[str]:
    if not isinstance(topics, list):
        given = "missing" if topics is None else f"{_shown(topics)}"
        return [f"{where}: topics is {given}; give a list of topics, e.g. [{{name: orders, partitions: 8, "
                "replication_factor: 2}] ([] while the pair has none yet)"]
    problems = []
    for i, topic in enumerate(topics):
        at = f"{where}: topics[{i}]"
        if not isinstance(topic, dict):
            problems.append(f"{at} is {_shown(topic)}; each topic is a dict with name, partitions, "
                            "replication_factor and optional config")
            continue
        unknown = _unknown(topic, TOPIC_KEYS)
        if unknown:
            problems.append(f"{at} has unknown keys {', '.join(unknown)}; known: {', '.join(TOPIC_KEYS)}")
        if not _name(topic.get("name")):
            problems.append(f"{at} needs name, the topic's name")
        for key in ("partitions", "replication_factor"):
            if key in topic and not _positive(topic[key]):
                problems.append(f"{at}: {key} is {_shown(topic[key])}; give a whole number above 0")
        if "config" in topic and not isinstance(topic["config"], dict):
            problems.append(f"{at}: config is {_shown(topic['config'])}; give a dict of topic configs")
    return problems


def mirroring_pair_problems(pairs, clusters=None, workers=None) -> list[str]:
    """Problems of `pairs` (mirroring_pairs); `clusters` and `workers`: the hosts of ambari_clusters and
    mirror_workers. An empty list: nothing wrong."""
    if pairs is None:
        return []
    if not isinstance(pairs, list):
        return [f"mirroring_pairs is {_shown(pairs)}; give a list of pairs, each with name, primary, secondary, "
                "topics and workers"]
    clusters = set(clusters or [])
    workers = set(workers or [])
    problems: list[str] = []
    seen: dict[str, int] = {}
    for i, pair in enumerate(pairs):
        if not isinstance(pair, dict):
            problems.append(f"mirroring_pairs[{i}] is {_shown(pair)}; each pair is a dict with name, primary, "
                            "secondary, topics and workers")
            continue
        name = pair.get("name")
        where = f"mirroring_pairs[{i}] ({name})" if _name(name) else f"mirroring_pairs[{i}]"
        unknown = _unknown(pair, PAIR_KEYS)
        if unknown:
            problems.append(f"{where} has unknown keys {', '.join(unknown)}; known: {', '.join(PAIR_KEYS)}")
        if not _name(name):
            problems.append(f"{where} needs name, a name of its own (the worker's service and group derive from it)")
        elif name in seen:
            problems.append(f"{where}: the name {name} is also mirroring_pairs[{seen[name]}]'s; give each pair its "
                            "own name")
        else:
            seen[name] = i
        for role in ("primary", "secondary"):
            host = pair.get(role)
            if not _name(host):
                problems.append(f"{where} needs {role}, a host of ambari_clusters ({', '.join(sorted(clusters))})")
            elif clusters and host not in clusters:
                problems.append(f"{where}: {role} {host} is not a host of ambari_clusters "
                                f"({', '.join(sorted(clusters))}); add it there or fix the name")
        if _name(pair.get("primary")) and pair.get("primary") == pair.get("secondary"):
            problems.append(f"{where}: primary and secondary are both {pair['primary']}; a pair mirrors between "
                            "two clusters")
        problems += _topic_problems(where, pair.get("topics"))
        if "workers" in pair:
            given = pair["workers"]
            if not isinstance(given, list) or not all(_name(w) for w in given):
                problems.append(f"{where}: workers is {_shown(given)}; give a list of hosts of mirror_workers")
            else:
                strangers = [w for w in given if w not in workers]
                if strangers:
                    problems.append(f"{where}: workers {', '.join(strangers)} not hosts of mirror_workers "
                                    f"({', '.join(sorted(workers)) or 'none'}); add them there or fix the names")
        for key in ("include", "group"):
            if key in pair and not _name(pair[key]):
                problems.append(f"{where}: {key} is {_shown(pair[key])}; give a non-empty string or leave it out")
    return problems


class FilterModule:
    def filters(self):
        return {"mirroring_pair_problems": mirroring_pair_problems}

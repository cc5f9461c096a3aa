"""Worker nodes as options of one model: their names and addresses, `--nodes` and the state written before it."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from kafka_lab import cli, node
from kafka_lab.layout import LabConfig, Paths

SECONDARY = LabConfig().clusters()[1]
ROOT = Path(__file__).resolve().parents[2]


def test_each_node_has_its_own_address_name_machine_and_directory_and_the_first_is_as_before():
    home = Path("/lab")
    assert [node.node_ip(SECONDARY, i) for i in range(3)] == ["10.231.2.100", "10.231.2.101", "10.231.2.102"]
    assert [node.hostname(SECONDARY, i) for i in range(2)] == ["hn0-kafkas.secondary.lab.internal",
                                                               "hn1-kafkas.secondary.lab.internal"]
    assert [node.machine(i) for i in range(3)] == ["kl-node", "kl-node2", "kl-node3"]
    assert [Paths(home).node_home(i) for i in range(3)] == [home / "node", home / "node2", home / "node3"]
    assert Paths(home).node_dir == home / "node"  # the key every node accepts, and node.json of the first


def test_a_lab_json_written_before_nodes_existed_reads_as_one_node_or_none():
    for old, nodes in ((True, 1), (False, 0)):
        data = json.loads(LabConfig(nodes=5).to_json())
        del data["nodes"]
        data["node"] = old
        assert LabConfig.from_json(json.dumps(data)).nodes == nodes
    assert LabConfig.from_json(LabConfig(nodes=2).to_json()).nodes == 2


@pytest.mark.parametrize("argv, nodes", [(["up"], None), (["up", "--node"], 1), (["up", "--no-node"], 0),
                                         (["up", "--nodes", "2"], 2), (["up", "--nodes", "0"], 0)])
def test_node_options_give_a_count(monkeypatch, argv, nodes):
    seen = {}
    monkeypatch.setattr(cli, "cmd_up", lambda args: seen.update(nodes=args.nodes))
    cli.main(["--home", "/nonexistent", *argv])
    assert seen == {"nodes": nodes}  # None: as the lab had it


@pytest.mark.parametrize("value", ["-1", "9", "two", ""])
def test_a_node_count_out_of_range_is_refused_by_name(capsys, value):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["up", "--nodes", value])
    assert exit_.value.code == 2
    assert f"give a number of worker nodes from 0 to {node.MAX_NODES}, not {value!r}" in capsys.readouterr().err


def test_node_and_nodes_together_are_refused(capsys):
    with pytest.raises(SystemExit):
        cli.main(["up", "--node", "--nodes", "2"])
    assert "not allowed with argument" in capsys.readouterr().err


def test_a_nodes_inventory_variables_are_the_lab_inventorys_for_the_first():
    first = yaml.safe_load((ROOT / "inventory/lab/hosts.yml").read_text())["all"]["children"]["mirror_workers"]
    assert node.inventory_host(SECONDARY, 0) == first["hosts"]["lab-node"]
    assert node.inventory_host(SECONDARY, 1)["ansible_host"] == "10.231.2.101"

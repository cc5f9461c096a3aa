"""manylinux_platforms gives pip the tags the node's own Python would accept (PEP 600, as PyPA's packaging computes
them for the running machine: packaging/tags.py platform_tags, vendored in pip), and clear refusals."""
from __future__ import annotations

import platform

import pytest
from ansible.errors import AnsibleFilterError
from pip._vendor.packaging import tags

from ansible_collections.ambari_kafka.mirroring.plugins.filter.wheel_platforms import manylinux_platforms


def test_tags_are_the_ones_this_machine_accepts_from_its_newest_down_to_manylinux2014():
    libc, version = platform.libc_ver()
    assert libc == "glibc"
    ours = manylinux_platforms(version, platform.machine())
    accepted = [t.platform for t in tags.sys_tags() if t.platform.startswith("manylinux")]
    assert ours[0] == accepted[0]  # the newest the machine accepts
    assert set(ours) <= set(accepted)
    assert ours[-2:] == [f"manylinux_2_17_{platform.machine()}", f"manylinux2014_{platform.machine()}"]


def test_debian_bullseye_on_arm():
    assert manylinux_platforms("2.31", "aarch64") == [f"manylinux_2_{m}_aarch64" for m in range(31, 16, -1)] + [
        "manylinux2014_aarch64"]


@pytest.mark.parametrize("glibc, machine, message", [
    ("", "x86_64", "not 2.N; the node needs glibc"),  # musl: platform.libc_ver() has no glibc version
    ("2.12", "x86_64", "older than 2.17"),
    ("2.31", "riscv64", "no manylinux wheels exist for the architecture 'riscv64'"),
])
def test_nodes_without_wheels_are_refused_by_name(glibc, machine, message):
    with pytest.raises(AnsibleFilterError, match=message):
        manylinux_platforms(glibc, machine)

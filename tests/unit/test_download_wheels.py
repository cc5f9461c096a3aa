"""download_wheels.py (mirror_worker, on the controller) completes pip download with what the node's environment markers
require: pip evaluates markers for the controller's interpreter, so confluent-kafka's `typing-extensions;
python_version < "3.11"` was missing for a Python 3.9 node (found on the lab's bullseye node)."""
from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "roles/mirror_worker/files/download_wheels.py"
spec = importlib.util.spec_from_file_location("download_wheels", SCRIPT)
download_wheels = importlib.util.module_from_spec(spec)
spec.loader.exec_module(download_wheels)


def wheel(where: Path, filename: str, *requires: str) -> Path:
    name, version = filename.split("-")[:2]
    path = where / filename
    with zipfile.ZipFile(path, "w") as archive:
        metadata = [f"Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
        archive.writestr(f"{name}-{version}.dist-info/METADATA", "\n".join(metadata + [f"Requires-Dist: {r}" for r in requires]) + "\n")
    return path


def markers(python: str) -> dict[str, str]:
    return {"implementation_name": "cpython", "implementation_version": f"{python}.0", "os_name": "posix",
            "platform_machine": "x86_64", "platform_release": "6.1", "platform_system": "Linux", "platform_version": "",
            "python_full_version": f"{python}.2", "platform_python_implementation": "CPython", "python_version": python,
            "sys_platform": "linux"}


def wheelhouse(tmp_path: Path) -> tuple[Path, Path]:
    dest = tmp_path / "wheelhouse"
    dest.mkdir()
    root = wheel(tmp_path, "kafka_mirror-0.1.0-py3-none-any.whl", "confluent-kafka<3,>=2.13", "PyYAML>=6",
                 "prometheus-client<1,>=0.20")
    wheel(dest, "confluent_kafka-2.16.1-cp39-cp39-manylinux_2_28_x86_64.whl", 'typing-extensions; python_version < "3.11"',
          'pytest; extra == "dev"')
    wheel(dest, "pyyaml-6.0.3-cp39-cp39-manylinux2014_x86_64.whl")
    wheel(dest, "prometheus_client-0.26.0-py3-none-any.whl")
    return dest, root


def test_a_marker_true_on_the_node_but_not_on_the_controller_is_missing(tmp_path):
    dest, root = wheelhouse(tmp_path)
    assert download_wheels.missing(dest, root, markers("3.9")) == ["typing-extensions"]
    assert download_wheels.missing(dest, root, markers("3.11")) == []  # extras are never wanted


def test_a_wheel_of_another_version_does_not_count(tmp_path):
    dest, root = wheelhouse(tmp_path)
    wheel(dest, "typing_extensions-4.15.0-py3-none-any.whl")
    (dest / "pyyaml-6.0.3-cp39-cp39-manylinux2014_x86_64.whl").rename(dest / "pyyaml-5.4.1-cp39-cp39-manylinux2014_x86_64.whl")
    assert download_wheels.missing(dest, root, markers("3.9")) == ["PyYAML>=6"]

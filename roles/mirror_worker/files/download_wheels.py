"""Download a wheel and every dependency the *node* needs into a wheelhouse, on the controller.

`pip download --python-version X.Y --platform ...` picks wheels for the node, but evaluates the environment markers of
requirements with the controller's own interpreter (pip/_internal/resolution: markers use the running Python), so
`typing-extensions; python_version < "3.11"` (confluent-kafka's, on a Python 3.9 node) is left out when the
controller runs 3.11. This runs pip download, then walks the downloaded wheels' requirements with the node's marker
environment and downloads what is missing, until nothing is (bounded).

    download_wheels.py MARKERS_JSON WHEEL -- PIP_DOWNLOAD_OPTIONS...
"""
from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

try:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name, parse_wheel_filename
except ImportError:  # pip vendors it wherever pip runs
    from pip._vendor.packaging.requirements import Requirement
    from pip._vendor.packaging.utils import canonicalize_name, parse_wheel_filename

ROUNDS = 5


def requirements(wheel: Path) -> list[Requirement]:
    """Requires-Dist of a wheel's METADATA."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA") and n.count("/") == 1)
        metadata = Parser().parsestr(archive.read(name).decode("utf-8"))
    return [Requirement(r) for r in metadata.get_all("Requires-Dist") or []]


def missing(dest: Path, root: Path, markers: dict[str, str]) -> list[str]:
    """Requirements the node needs (markers evaluated for it, no extras) that no wheel in dest satisfies."""
    wheels: dict[str, list[tuple[str, Path]]] = {}
    for path in dest.glob("*.whl"):
        name, version = parse_wheel_filename(path.name)[:2]
        wheels.setdefault(canonicalize_name(name), []).append((str(version), path))
    wanted, seen, todo = [], set(), [root]
    while todo:
        for req in requirements(todo.pop()):
            if req.marker is not None and not req.marker.evaluate({**markers, "extra": ""}):
                continue
            found = [p for v, p in wheels.get(canonicalize_name(req.name), []) if req.specifier.contains(v, True)]
            if found:
                if found[0] not in seen:
                    seen.add(found[0])
                    todo.append(found[0])
            else:
                wanted.append(f"{req.name}{req.specifier}")
    return sorted(set(wanted))


def main(argv: list[str]) -> int:
    markers, wheel, separator, *pip_options = argv
    if separator != "--":
        sys.exit(__doc__)
    dest = Path(pip_options[pip_options.index("--dest") + 1])
    pip = [sys.executable, "-m", "pip", "download", *pip_options]
    wanted = [wheel]
    for _round in range(ROUNDS):
        proc = subprocess.run(pip + wanted, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr)
            return proc.returncode
        wanted = missing(dest, Path(wheel), json.loads(markers))
        if not wanted:
            return 0
    sys.stderr.write(f"ERROR: still missing after {ROUNDS} rounds of pip download: {', '.join(wanted)}\n")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

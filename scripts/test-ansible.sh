#!/usr/bin/env bash
# One claimed ansible-core, in its virtualenv (.venv-ansible/<version>, made by `make test-ansible`):
#   scripts/test-ansible.sh <version> [units] [sanity] [contract]
# units: ansible-test units (tests/unit); sanity: ansible-test sanity on the built artifact; contract: the contract
# tests that run ansible-core (the modules' and the roles', not the lab API's) under our pytest configuration
# (warnings are errors), four at a time: they mostly wait on in-process servers. Each step's time on stderr; the first
# failure ends the run.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version="$1"
shift
checks="${*:-units sanity contract}"
venv="$root/.venv-ansible/$version"
python="$venv/bin/python"
pyver="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
core="$("$python" -c 'from ansible.release import __version__; print(__version__)')"
cd "$root"
# The modules' Pythons (tests/config.yml): ansible-test runs sanity's compile and import tests on each pythonX.Y it finds
# on PATH. pyenv's shims need PYENV_VERSION, which ansible-test does not pass on: its interpreters by their own paths.
pythons="$(mktemp -d)"
trap 'rm -rf "$pythons"' EXIT
for exe in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/*/bin/python*; do
  if [[ "$(basename "$exe")" =~ ^python[0-9]+\.[0-9]+$ ]]; then ln -sf "$exe" "$pythons/"; fi
done
export PATH="$venv/bin:$pythons:$PATH"  # its ansible-test, pytest and ansible-playbook first
for check in $checks; do
  start=$SECONDS
  case "$check" in
    units) ANSIBLE_TEST_VENV="$venv" bash scripts/ansible-test.sh units --local --python "$pyver" ;;
    sanity) ANSIBLE_TEST_VENV="$venv" bash scripts/ansible-test.sh sanity --local ;;  # every Python found
    contract) "$python" -m pytest -q -p no:cacheprovider -n 4 $(grep -l ansible tests/contract/test_*.py) ;;
    *) echo "unknown check: $check (units, sanity, contract)" >&2; exit 2 ;;
  esac
  echo "ansible-core $core, Python $pyver: $check passed in $((SECONDS - start))s" >&2
done

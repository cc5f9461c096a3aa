#!/usr/bin/env bash
# ansible-test offline: the built collection unpacked under ansible_collections/ambari_kafka/mirroring
# (ansible-test's required layout), and a local stand-in for the get-pip bootstrap it would download.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv_bin="$root/.venv/bin"
# The pip version ansible-test pins (24.2 for ansible-core 2.19) names the bootstrap file it looks for.
pip_version=$(grep -oP "pip='\K[0-9.]+" "$("$venv_bin/python" -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')/_internal/python_requirements.py")
cache="$HOME/.ansible/test/cache"
mkdir -p "$cache"
cp "$root/scripts/ansible-test-offline-pip.py" "$cache/get_pip_${pip_version//./_}.py"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dest="$work/ansible_collections/ambari_kafka/mirroring"
mkdir -p "$dest"
# Exactly what ships: the built artifact, unpacked.
"$venv_bin/ansible-galaxy" collection build "$root" --output-path "$work" >/dev/null
tar -xzf "$work"/ambari_kafka-mirroring-*.tar.gz -C "$dest"
cd "$dest"
"$venv_bin/ansible-test" "$@"

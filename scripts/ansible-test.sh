#!/usr/bin/env bash
# ansible-test offline: the built collection (for units: the repository's files) under
# ansible_collections/ambari_kafka/mirroring (ansible-test's required layout), and a local stand-in for the get-pip
# bootstrap it would download.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv_bin="$(cd "${ANSIBLE_TEST_VENV:-$root/.venv}" && pwd)/bin"  # another ansible-core: ANSIBLE_TEST_VENV=/path/to/its/venv
# The pip versions ansible-test pins (24.2 for ansible-core 2.19; 2.16 pins older ones for old Pythons too) name the
# bootstrap files it looks for.
cache="$HOME/.ansible/test/cache"
mkdir -p "$cache"
for pip_version in $(grep -oP "pip='\K[0-9.]+" "$("$venv_bin/python" -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')/_internal/python_requirements.py"); do
  cp "$root/scripts/ansible-test-offline-pip.py" "$cache/get_pip_${pip_version//./_}.py"
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dest="$work/ansible_collections/ambari_kafka/mirroring"
mkdir -p "$dest"
if [ "${1:-}" = units ]; then
  # The unit tests do not ship and read files beside the collection (worker/): the repository's files (tracked and
  # new, not ignored; not those deleted in the work tree).
  git -C "$root" ls-files -z --cached --others --exclude-standard |
    (cd "$root" && xargs -0 sh -c 'for f; do if [ -e "$f" ]; then printf "%s\0" "$f"; fi; done' sh) |
    tar -C "$root" --null -T - -cf - | tar -C "$dest" -xf -
else
  # Exactly what ships: the built artifact, unpacked.
  "$venv_bin/ansible-galaxy" collection build "$root" --output-path "$work" >/dev/null
  tar -xzf "$work"/ambari_kafka-mirroring-*.tar.gz -C "$dest"
fi
cd "$dest"
"$venv_bin/ansible-test" "$@"

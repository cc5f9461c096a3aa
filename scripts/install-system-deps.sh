#!/usr/bin/env bash
# Debian packages the lab, the tests and the demo need. Installs only what is missing.
set -euo pipefail
packages=(openjdk-17-jre-headless maven iproute2 util-linux openssh-client systemd-container debootstrap
          python3-venv curl)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# A JDK from elsewhere (e.g. a preinstalled Temurin) serves as well as Debian's JRE.
if command -v java >/dev/null && java -version 2>&1 | grep -q 'version "17'; then
  missing=("${missing[@]/openjdk-17-jre-headless}")
fi
command -v mvn >/dev/null && missing=("${missing[@]/maven}")
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-system-deps: missing Debian packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "install-system-deps: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

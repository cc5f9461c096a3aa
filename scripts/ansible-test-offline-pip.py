"""Offline stand-in for the get-pip bootstrap script ansible-test downloads from ci-files.testing.ansible.com.

That host is not reachable here, PyPI is: bootstrap the pip bundled with Python (ensurepip), then install what
ansible-test asked for from PyPI. ansible-test isolates pip's configuration, so the CA bundle is passed explicitly.
Installed by scripts/ansible-test.sh as ~/.ansible/test/cache/get_pip_<version>.py.
"""
import ensurepip
import os
import subprocess
import sys

ensurepip.bootstrap(upgrade=True)
args = [a for a in sys.argv[1:] if not a.startswith("--")] or ["pip"]
cert = "/etc/ssl/certs/ca-certificates.crt"
cmd = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--quiet"]
cmd += ["--cert", cert] if os.path.exists(cert) else []
sys.exit(subprocess.call(cmd + args))

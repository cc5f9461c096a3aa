"""The kafka_network role against an HTTPS Ambari signed by a private CA (issue 10, item 12): the role passes
ambari_ca_path, ambari_timeout and ambari_validate_certs to every Ambari module it calls."""
from __future__ import annotations

import json
import os
import re
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path

import yaml

from .conftest import CLUSTER, PASSWORD, running_api

ROOT = Path(__file__).resolve().parents[2]
AMBARI_MODULES = ("ambari_cluster_info", "ambari_config", "ambari_service")


def private_ca(tmp_path: Path) -> tuple[Path, ssl.SSLContext]:
    """A CA and a server certificate for 127.0.0.1 it signed; the CA is in no system trust store."""
    ca_key, ca, key, csr, cert = (tmp_path / n for n in ("ca.key", "ca.pem", "srv.key", "srv.csr", "srv.pem"))
    openssl = ["openssl"]
    subprocess.run(openssl + ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=lab private CA",
                              "-keyout", str(ca_key), "-out", str(ca)], check=True, capture_output=True)
    subprocess.run(openssl + ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", str(key),
                              "-out", str(csr)], check=True, capture_output=True)
    ext = tmp_path / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    subprocess.run(openssl + ["x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
                              "-days", "1", "-extfile", str(ext), "-out", str(cert)], check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return ca, context


def test_role_reaches_an_https_ambari_with_a_private_ca(tmp_path, monkeypatch):
    ca, context = private_ca(tmp_path)
    clean_env = dict(os.environ)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))  # the test's own lab client trusts the CA; ansible does not
    # An in-process module run leaves its own opener (and TLS context) installed in urllib: not this one's.
    monkeypatch.setattr(urllib.request, "_opener", None)
    with running_api(tmp_path, tls=context) as api:
        api.set_state("STARTED")
        play = [{"hosts": "localhost", "gather_facts": False, "roles": [{
            "role": "ambari_kafka.mirroring.kafka_network",
            "vars": {"ambari_url": api.client.url, "ambari_cluster": CLUSTER,
                     "ambari_password": "{{ lookup('ansible.builtin.env', 'AMBARI_PASSWORD') }}",
                     "ambari_validate_certs": True, "ambari_ca_path": str(ca), "ambari_timeout": 7,
                     "kafka_network_wait_ready": False, "kafka_network_batch_separation": 0,
                     "kafka_network_wait_sleep": 1}}]}]
        (tmp_path / "play.yml").write_text(yaml.safe_dump(play))
        env = {**clean_env, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
               "ANSIBLE_CALLBACK_RESULT_FORMAT": "json", "AMBARI_PASSWORD": PASSWORD}
        proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                               "-e", f"ansible_python_interpreter={sys.executable}", "-vvv",
                               str(tmp_path / "play.yml")], capture_output=True, text=True, env=env, cwd=ROOT,
                              timeout=900)
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0, output[-5000:]  # TLS verified against the private CA in every module
        decoder = json.JSONDecoder()
        invocations = [decoder.raw_decode(output, m.end())[0] for m in re.finditer(r'"module_args": ', output)]
        ambari_calls = [a for a in invocations if "cluster" in a and "url" in a]
        assert len(ambari_calls) == 4  # cluster_info, kafka-env block, broker properties, restart
        assert all(a["ca_path"] == str(ca) and a["timeout"] == 7 and a["validate_certs"] is True
                   for a in ambari_calls), ambari_calls
        assert api.stale_hosts() == []  # the change was made and the brokers restarted
        assert PASSWORD not in output

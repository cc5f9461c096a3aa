"""The secure lab's certificate authority, its certificates, and the secrets it keeps (`kafka-lab up --secure`).

One CA per lab home signs a certificate per Ambari endpoint (localhost, 127.0.0.1) and per broker (its FQDN and
its IP: the article advertises IPs, and a client verifying the broker's name must find the IP in the certificate).
Private keys, keystores and passwords are written 0600 and never printed; only the CA certificate is public.
"""
from __future__ import annotations

import datetime
import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kafka_lab.layout import ClusterSpec, HostSpec, Paths

CA_DAYS = 3650
LEAF_DAYS = 825  # the longest validity public CAs' clients accept; the lab renews nothing before it ends
# The SCRAM mechanism of the SASL_SSL listener, and the user each cluster's clients (the mirror, the modules) use.
SCRAM_MECHANISM = "SCRAM-SHA-512"
SCRAM_ITERATIONS = 8192


def client_user(cluster: ClusterSpec) -> str:
    """A plain client user per cluster (not a super user, not inter-broker), distinct so mixed-up credentials fail."""
    return f"mirror-{cluster.role}"


def write_secret(path: Path, data: bytes | str) -> None:
    """Written 0600 from the first byte (O_CREAT with the mode; chmod for a file an older lab left)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    os.chmod(path, 0o600)


def ensure_secret(path: Path) -> str:
    """A random password kept in `path` (0600): generated once, the same on every later `up`."""
    if not path.exists():
        write_secret(path, secrets.token_urlsafe(18) + "\n")
    return path.read_text().strip()


@dataclass(frozen=True)
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "kafka-lab"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)  # clock skew


def new_ca(common_name: str) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(common_name)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(_now())
            .not_valid_after(_now() + datetime.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return Issued(cert, key)


def issue(ca: Issued, names: list[str], ips: list[str]) -> Issued:
    """A server certificate for `names` (the first is the subject's CN) and `ips`, signed by `ca`."""
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    cert = (x509.CertificateBuilder().subject_name(_name(names[0])).issuer_name(ca.cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number()).not_valid_before(_now())
            .not_valid_after(_now() + datetime.timedelta(days=LEAF_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
            .sign(ca.key, hashes.SHA256()))
    return Issued(cert, key)


def keystore(leaf: Issued, ca: Issued, alias: str, password: str) -> bytes:
    """A PKCS#12 keystore Java 17 reads (PBES2/AES-256, HMAC-SHA256): the broker's key and chain."""
    encryption = (serialization.PrivateFormat.PKCS12.encryption_builder()
                  .kdf_rounds(10000).key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
                  .hmac_hash(hashes.SHA256()).build(password.encode()))
    return pkcs12.serialize_key_and_certificates(alias.encode(), leaf.key, leaf.cert, [ca.cert], encryption)


def _load(cert_path: Path, key_path: Path) -> Issued:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return Issued(cert, key)


def ensure_ca(paths: Paths) -> Issued:
    """The lab's CA: made on the first secure `up`, kept in the lab home (its key 0600)."""
    if paths.ca_cert.exists() and paths.ca_key.exists():
        return _load(paths.ca_cert, paths.ca_key)
    ca = new_ca(f"kafka-lab CA {secrets.token_hex(4)}")  # CN <= 64 characters; distinct per lab home
    write_secret(paths.ca_key, ca.key_pem())
    paths.ca_cert.write_bytes(ca.cert_pem())
    os.chmod(paths.ca_cert, 0o644)  # public: clients, the node and the inventory read it
    return ca


def ensure_ambari(paths: Paths, ca: Issued, cluster: ClusterSpec) -> None:
    """Certificate and key of a cluster's Ambari API (served on loopback): localhost and 127.0.0.1."""
    cert, key = paths.ambari_tls(cluster.name)
    if cert.exists() and key.exists() and _signed_by(cert, ca):
        return
    leaf = issue(ca, ["localhost", f"ambari.{cluster.domain}"], ["127.0.0.1"])
    write_secret(key, leaf.key_pem())
    write_secret(cert, leaf.cert_pem() + ca.cert_pem())


def ensure_broker(paths: Paths, ca: Issued, host: HostSpec) -> None:
    """A broker's PKCS#12 keystore for its FQDN and IP, and its password in a properties file the broker's
    FileConfigProvider reads (so the password is not in Ambari's kafka-broker config)."""
    store, secret = paths.broker_keystore(host.fqdn), paths.broker_keystore_secret(host.fqdn)
    if store.exists() and secret.exists() and paths.broker_cert(host.fqdn).exists() and \
            _signed_by(paths.broker_cert(host.fqdn), ca):
        return
    password = secrets.token_urlsafe(18)
    leaf = issue(ca, [host.fqdn, host.short], [host.ip])
    write_secret(store, keystore(leaf, ca, host.short, password))
    write_secret(secret, f"password={password}\n")
    paths.broker_cert(host.fqdn).write_bytes(leaf.cert_pem())


def _signed_by(cert_path: Path, ca: Issued) -> bool:
    """A certificate of this CA (a CA made anew, e.g. after its files were deleted, reissues every certificate)."""
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return cert.issuer == ca.cert.subject and cert.signature_hash_algorithm is not None and _verifies(cert, ca)


def _verifies(cert: x509.Certificate, ca: Issued) -> bool:
    try:
        cert.verify_directly_issued_by(ca.cert)
    except Exception:  # InvalidSignature, or ValueError/TypeError for another key type
        return False
    return True


def ensure_all(paths: Paths, clusters: list[ClusterSpec]) -> None:
    """Everything a secure `up` needs: CA, Ambari and broker certificates, the clients' SCRAM passwords."""
    ca = ensure_ca(paths)
    for cluster in clusters:
        ensure_ambari(paths, ca, cluster)
        if cluster.simulated:
            continue
        ensure_secret(paths.kafka_password(cluster.name))
        for host in cluster.hosts():
            ensure_broker(paths, ca, host)

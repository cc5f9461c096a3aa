"""Password properties as Ambari's API shows and takes them (reference/ambari-rest-api.md §15.4).

Every configuration Ambari returns (GET configurations, service config versions, the PUT's answer) goes through
ConfigurationResponse, which replaces the value of each PASSWORD-typed property of the stack, and of each property
named under the `password` attribute, by `SECRET:<type>:<version>:<name>` (utils/SecretReference.java). A write
that carries such a reference for a password property gets the referenced stored value instead
(AmbariManagementControllerImpl.updateCluster and createConfiguration); config groups store it as it came.
"""
from __future__ import annotations

from typing import Callable

from kafka_lab.ambari.errors import internal

PREFIX = "SECRET"
# <property-type>PASSWORD</property-type> in the KAFKA service definitions the HDP 2.6 stack inherits (HDP/2.6 ->
# 2.5 -> common-services/KAFKA/0.10.0 -> 0.9.0 -> 0.8.1), the same in release-2.6.2 and release-2.7.8. kafka-broker
# and kafka-env have none. xasecure.audit.destination.db.password is PASSWORD in KAFKA/0.9.0 but deleted in 0.10.0.
# The 2.7 lab's HDP-3.1 stack is not in apache/ambari (it shipped as a management pack): the same set stands in.
STACK_PASSWORDS: dict[str, frozenset[str]] = {
    "ranger-kafka-plugin-properties": frozenset({
        "REPOSITORY_CONFIG_PASSWORD",  # common-services/KAFKA/0.9.0
        "external_admin_password", "external_ranger_admin_password"}),  # stacks/HDP/2.6/services/KAFKA
    "ranger-kafka-policymgr-ssl": frozenset({  # common-services/KAFKA/0.9.0
        "xasecure.policymgr.clientssl.keystore.password", "xasecure.policymgr.clientssl.truststore.password"}),
}

# (type, version) -> the stored config of that version, or None.
VersionLookup = Callable[[str, int], "dict | None"]


def is_reference(value: object) -> bool:
    """SecretReference.isSecret: four ':'-separated parts, the first SECRET."""
    if not isinstance(value, str):
        return False
    parts = value.split(":")
    return len(parts) == 4 and parts[0] == PREFIX


def stub(config_type: str, version: int, name: str) -> str:
    return f"{PREFIX}:{config_type}:{version}:{name}"


def shown(config_type: str, version: int, props: dict[str, str], attrs: dict) -> dict[str, str]:
    """The properties as ConfigurationResponse returns them: non-empty password values become references.

    Stack PASSWORD types (replacePasswordsWithReferences) and every key under the `password` attribute, whatever
    its value (replacePasswordsWithReferencesForCustomProperties iterates the key set).
    """
    names = STACK_PASSWORDS.get(config_type, frozenset()) | set((attrs or {}).get("password") or {})
    return {k: stub(config_type, version, k) if k in names and v != "" else v for k, v in props.items()}


def resolved(config_type: str, props: dict[str, str], attrs: dict, lookup: VersionLookup,
             cluster: str) -> dict[str, str]:
    """A written property map with references of password properties replaced by the values they point at.

    Only stack PASSWORD types and properties whose `password` attribute is "true" in the request are resolved;
    a reference anywhere else is stored as text, as Ambari does.
    """
    marked = {k for k, v in ((attrs or {}).get("password") or {}).items() if v == "true"}
    names = STACK_PASSWORDS.get(config_type, frozenset()) | marked
    out = dict(props)
    for key, value in props.items():
        if key in names and is_reference(value):
            out[key] = _value_of(value, lookup, cluster)
    return out


def _value_of(reference: str, lookup: VersionLookup, cluster: str) -> str:
    """new SecretReference(reference, cluster).getValue(), with its AmbariExceptions (500)."""
    _, ref_type, ref_version, name = reference.split(":")
    try:
        version = int(ref_version)
    except ValueError:
        raise internal(f'For input string: "{ref_version}"') from None  # Long.valueOf
    config = lookup(ref_type, version)
    if config is None:
        raise internal(f"Error when parsing secret reference. Cluster: {cluster} does not contain ConfigType: "
                       f"{ref_type} ConfigVersion: {version}")
    if name not in config["properties"]:
        raise internal(f"Error when parsing secret reference. Cluster: {cluster} ConfigType: {ref_type} "
                       f"ConfigVersion: {version} does not contain property '{name}'")
    return config["properties"][name]

# -*- coding: utf-8 -*-
# Copyright: ambari_kafka.mirroring contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kafka AdminClient connection shared by the kafka_* modules: options, client, and the one error funnel."""

from __future__ import annotations

import re
import traceback

from ansible.module_utils.basic import env_fallback, missing_required_lib

try:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient
    HAS_CONFLUENT_KAFKA = True
    IMPORT_ERROR = None
except ImportError:
    HAS_CONFLUENT_KAFKA = False
    IMPORT_ERROR = traceback.format_exc()


class KafkaModuleError(Exception):
    """What a kafka_* module reports as its failure: `msg` for the user, `details` as extra result keys."""

    def __init__(self, msg, **details):
        super().__init__(msg)
        self.msg = msg
        self.details = details


PROTOCOLS = ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
MECHANISMS = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "GSSAPI"]
# Option -> librdkafka property, for the security options (a cluster's credentials).
SECURITY_OPTIONS = {
    "sasl_mechanism": "sasl.mechanism", "sasl_username": "sasl.username", "sasl_password": "sasl.password",
    "sasl_kerberos_service_name": "sasl.kerberos.service.name", "sasl_kerberos_keytab": "sasl.kerberos.keytab",
    "sasl_kerberos_principal": "sasl.kerberos.principal",
    "ssl_ca_location": "ssl.ca.location", "ssl_certificate_location": "ssl.certificate.location",
    "ssl_key_location": "ssl.key.location", "ssl_key_password": "ssl.key.password"}


def security_argument_spec(prefix=""):
    """The options that say how to reach and authenticate to one cluster; `prefix` names another cluster's."""
    return {
        prefix + "security_protocol": dict(type="str", choices=PROTOCOLS, **({} if prefix else {"default": "PLAINTEXT"})),
        prefix + "sasl_mechanism": dict(type="str", choices=MECHANISMS),
        prefix + "sasl_username": dict(type="str"),
        prefix + "sasl_password": dict(type="str", no_log=True, **({} if prefix else {
            "fallback": (env_fallback, ["KAFKA_SASL_PASSWORD"])})),
        prefix + "sasl_kerberos_service_name": dict(type="str"),
        prefix + "sasl_kerberos_keytab": dict(type="path"),
        prefix + "sasl_kerberos_principal": dict(type="str"),
        prefix + "ssl_ca_location": dict(type="path"),
        prefix + "ssl_certificate_location": dict(type="path"),
        prefix + "ssl_key_location": dict(type="path"),
        prefix + "ssl_key_password": dict(type="str", no_log=True),
    }


def kafka_argument_spec():
    """The connection options (doc fragment ambari_kafka.mirroring.kafka). A new dict on every call."""
    spec = dict(bootstrap_servers=dict(type="str", required=True, fallback=(env_fallback, ["KAFKA_BOOTSTRAP_SERVERS"])))
    spec.update(security_argument_spec())
    spec["request_timeout"] = dict(type="int", default=30)
    return spec


def security_required_together(prefix=""):
    return [[prefix + "sasl_username", prefix + "sasl_password"],
            [prefix + "ssl_certificate_location", prefix + "ssl_key_location"]]


KAFKA_REQUIRED_TOGETHER = security_required_together()
KAFKA_REQUIRED_IF = [["security_protocol", "SASL_PLAINTEXT", ["sasl_mechanism"]],
                     ["security_protocol", "SASL_SSL", ["sasl_mechanism"]]]

# A partition's leadership moving (a broker restarting, an election, a client's metadata ahead of a broker's), by
# librdkafka error name: each a RetriableException in apache/kafka 3.9 (clients/src/main/java/org/apache/kafka/
# common/errors/). librdkafka's watermark query hands NOT_LEADER_FOR_PARTITION and OFFSET_NOT_AVAILABLE to the caller
# (src/rdkafka_request.c, rd_kafka_handle_ListOffsets: metadata refreshed, not sent again), its admin ListOffsets
# every one (src/rdkafka_admin.c). Reads of ends ask again on them, bounded.
# A broker moving too: the connection lost, or the broker dropped from the metadata while it restarts
# (DisconnectException and NetworkException in apache/kafka 3.9, also retriable).
LEADER_MOVING = ("NOT_LEADER_FOR_PARTITION", "LEADER_NOT_AVAILABLE", "UNKNOWN_LEADER_EPOCH", "FENCED_LEADER_EPOCH",
                 "OFFSET_NOT_AVAILABLE", "_TRANSPORT", "_DESTROY_BROKER")

# Why a connection failed, as librdkafka tells it to the error callback (the request itself only times out).
_CONNECTION_ERRORS = []
CONNECTION_ERROR_CODES = ("_SSL", "_AUTHENTICATION", "_TRANSPORT", "_ALL_BROKERS_DOWN", "_RESOLVE")


def _record_error(error):
    """error_cb of every client: keeps the distinct connection-level errors (their texts carry no secret)."""
    text = re.sub(r" \(after \d+ms in state \w+\)$", "", error.str() if hasattr(error, "str") else str(error))
    name = error.name() if hasattr(error, "name") else ""
    if name in CONNECTION_ERROR_CODES and (name, text) not in _CONNECTION_ERRORS and len(_CONNECTION_ERRORS) < 3:
        _CONNECTION_ERRORS.append((name, text))


def client_config(params, prefix=""):
    """librdkafka settings from the module's connection options; `prefix` ("target_"): another cluster's, with the
    same bootstrap option name prefixed."""
    conf = {"bootstrap.servers": params[prefix + "bootstrap_servers"],
            "security.protocol": params[prefix + "security_protocol"] or "PLAINTEXT",
            "socket.timeout.ms": params["request_timeout"] * 1000, "error_cb": _record_error}
    conf.update({key: params[prefix + opt] for opt, key in SECURITY_OPTIONS.items() if params.get(prefix + opt)})
    return conf


def connection_hint(errors, protocol):
    """One sentence naming the option to fix, from the errors librdkafka reported while connecting."""
    if not errors:
        return ""
    names = [name for name, text in errors]
    texts = "; ".join(text for name, text in errors)
    hint = ""
    if any(name == "_SSL" or "certificate verify failed" in text for name, text in errors):
        hint = (" The brokers' TLS certificate is not trusted: set ssl_ca_location to the PEM file of the CA that "
                "signed it (the inventory's kafka_security.ca_path).")
    elif "_AUTHENTICATION" in names:
        hint = (" The brokers refused the credentials: check sasl_mechanism, sasl_username and sasl_password (the "
                "inventory's kafka_security) of this cluster.")
    elif protocol in ("SSL", "SASL_SSL") and "_TRANSPORT" in names:
        hint = " Is the port a %s listener (the inventory's kafka_security.listener)?" % protocol
    return "; connection errors: %s.%s" % (texts, hint)


def run_kafka_module(module, process):
    """Run process(module, admin); KafkaModuleError and Kafka errors become messages here, never a traceback."""
    if not HAS_CONFLUENT_KAFKA:
        module.fail_json(msg=missing_required_lib("confluent-kafka"), exception=IMPORT_ERROR)
    del _CONNECTION_ERRORS[:]
    admin = None
    try:
        admin = AdminClient(client_config(module.params))
        result = process(module, admin)
    except KafkaModuleError as exc:
        module.fail_json(msg=exc.msg + _hint(admin, module), **exc.details)
    except KafkaException as exc:
        error = exc.args[0] if exc.args else exc
        text = error.str() if hasattr(error, "str") else str(error)
        module.fail_json(msg="Kafka at %s: %s%s" % (module.params["bootstrap_servers"], text, _hint(admin, module)))
    except Exception as exc:
        why = "%s: %s%s" % (type(exc).__name__, exc, _hint(admin, module))
        module.fail_json(msg="Unexpected error in %s: %s" % (module._name, why),
                         exception=traceback.format_exc())
    module.exit_json(**result)


def _hint(admin, module):
    if admin is not None:
        admin.poll(0)  # serve the error callbacks still queued
    return connection_hint(_CONNECTION_ERRORS, module.params["security_protocol"])

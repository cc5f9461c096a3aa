# -*- coding: utf-8 -*-
# Copyright: ambari_kafka.mirroring contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kafka AdminClient connection shared by the kafka_* modules: options, client, and the one error funnel."""

from __future__ import annotations

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


def kafka_argument_spec():
    """The connection options (doc fragment ambari_kafka.mirroring.kafka). A new dict on every call."""
    return dict(
        bootstrap_servers=dict(type="str", required=True, fallback=(env_fallback, ["KAFKA_BOOTSTRAP_SERVERS"])),
        security_protocol=dict(type="str", default="PLAINTEXT",
                               choices=["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]),
        sasl_mechanism=dict(type="str", choices=["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "GSSAPI"]),
        sasl_username=dict(type="str"),
        sasl_password=dict(type="str", no_log=True, fallback=(env_fallback, ["KAFKA_SASL_PASSWORD"])),
        ssl_ca_location=dict(type="path"),
        ssl_certificate_location=dict(type="path"),
        ssl_key_location=dict(type="path"),
        ssl_key_password=dict(type="str", no_log=True),
        request_timeout=dict(type="int", default=30),
    )


KAFKA_REQUIRED_TOGETHER = [["sasl_username", "sasl_password"], ["ssl_certificate_location", "ssl_key_location"]]
KAFKA_REQUIRED_IF = [["security_protocol", "SASL_PLAINTEXT", ["sasl_mechanism"]],
                     ["security_protocol", "SASL_SSL", ["sasl_mechanism"]]]


def client_config(params):
    """librdkafka settings from the module's connection options."""
    conf = {"bootstrap.servers": params["bootstrap_servers"], "security.protocol": params["security_protocol"],
            "socket.timeout.ms": params["request_timeout"] * 1000}
    names = {"sasl_mechanism": "sasl.mechanism", "sasl_username": "sasl.username", "sasl_password": "sasl.password",
             "ssl_ca_location": "ssl.ca.location", "ssl_certificate_location": "ssl.certificate.location",
             "ssl_key_location": "ssl.key.location", "ssl_key_password": "ssl.key.password"}
    conf.update({key: params[opt] for opt, key in names.items() if params.get(opt)})
    return conf


def run_kafka_module(module, process):
    """Run process(module, admin); KafkaModuleError and Kafka errors become messages here, never a traceback."""
    if not HAS_CONFLUENT_KAFKA:
        module.fail_json(msg=missing_required_lib("confluent-kafka"), exception=IMPORT_ERROR)
    try:
        admin = AdminClient(client_config(module.params))
        result = process(module, admin)
    except KafkaModuleError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    except KafkaException as exc:
        error = exc.args[0] if exc.args else exc
        text = error.str() if hasattr(error, "str") else str(error)
        module.fail_json(msg="Kafka at %s: %s" % (module.params["bootstrap_servers"], text))
    except Exception as exc:
        module.fail_json(msg="Unexpected error in %s: %s: %s" % (module._name, type(exc).__name__, exc),
                         exception=traceback.format_exc())
    module.exit_json(**result)

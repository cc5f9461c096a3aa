"""kafka_lab: the embedded test lab of ambari_kafka.mirroring.

Two Apache Kafka clusters whose hosts live in their own network namespaces, each cluster
behind an Ambari-compatible REST API that really renders configs and restarts brokers.
"""

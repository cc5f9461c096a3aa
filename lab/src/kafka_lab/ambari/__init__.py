"""An Ambari-compatible REST API (v1) for the lab's clusters, per reference/ambari-rest-api.md."""

# -*- coding: utf-8 -*-
# Copyright: ambari_kafka.mirroring contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """The Ambari connection options every ambari_* module shares (module_utils._ambari.ambari_argument_spec)."""

    DOCUMENTATION = r"""
attributes:
  action_group:
    description:
      - Use C(group/ambari_kafka.mirroring.ambari) in C(module_defaults) to set the connection options (O(url), O(username), O(password), ...)
        once for every module of the group.
    support: full
    membership:
      - ambari_kafka.mirroring.ambari
notes:
  - With C(ansible_connection=local), the documented setup for the Ambari clusters' hosts, the module's work runs in the
    controller's worker process (its action plugin, same validation, same result, no_log values masked alike), with
    no Python process per host and task. With another connection, C(async) or a task C(environment) the module runs as
    usual.
options:
  url:
    description:
      - Base URL of the Ambari server, without C(/api/v1). On Azure HDInsight this is
        C(https://CLUSTERNAME.azurehdinsight.net).
      - A redirect to another scheme, host or port is not followed (the credentials would go there); the task fails
        naming where it pointed, so that O(url) can be set to that address if it is trusted.
      - A URL holding credentials (C(https://user:password@host)) is refused; they go in O(username) and O(password).
      - If not set, the environment variable E(AMBARI_URL) is used.
    type: str
    required: true
  username:
    description:
      - Ambari (or HDInsight cluster login) user.
      - If not set, the environment variable E(AMBARI_USERNAME) is used.
    type: str
    default: admin
  password:
    description:
      - Password of O(username). Never logged or shown in diffs.
      - If not set, the environment variable E(AMBARI_PASSWORD) is used.
    type: str
    required: true
  cluster:
    description:
      - Name of the cluster as Ambari knows it (case-sensitive on HDInsight).
      - If omitted, the server must manage exactly one cluster, which is then used.
    type: str
  validate_certs:
    description:
      - Verify the server's TLS certificate.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file of the CA that signed the server's certificate.
    type: path
  timeout:
    description:
      - Seconds to wait for each HTTP response (1 or more). A gateway's HTTP 429 (and a read answered 5xx) is retried
        with a jittered backoff that honours C(Retry-After); the waits between the attempts of one call add up to
        O(timeout) seconds at most. A TLS verification failure is never retried.
      - A write that was sent and not answered within O(timeout) may have been applied; the modules read back what
        they can, and otherwise fail saying that the outcome is unknown.
    type: int
    default: 30
"""

    WAIT = r"""
options:
  wait:
    description:
      - Wait until the Ambari request ends, and fail when it ends in V(FAILED), V(TIMEDOUT), V(ABORTED) or
        V(SKIPPED_FAILED).
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for the request (the whole rolling restart, when O(rolling=true)); 0 or more. A poll that a
        gateway answers HTTP 429 can add the retries of one call (O(timeout) seconds at most).
    type: int
    default: 1800
  wait_sleep:
    description:
      - Seconds between two polls of the request's status (1 or more).
    type: int
    default: 5
"""

# Copyright: ambari_kafka.mirroring contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ambari_config in the controller's worker process when it would run on the controller (plugin_utils/ambari_action.py)."""
from __future__ import annotations

from ansible_collections.ambari_kafka.mirroring.plugins.module_utils._ambari_configs import run_ambari_config
from ansible_collections.ambari_kafka.mirroring.plugins.modules.ambari_config import module_spec
from ansible_collections.ambari_kafka.mirroring.plugins.plugin_utils.ambari_action import AmbariAction


class ActionModule(AmbariAction):
    module = "ambari_kafka.mirroring.ambari_config"
    module_spec = staticmethod(module_spec)
    process = staticmethod(run_ambari_config)

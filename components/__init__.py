"""modelstack: Pulumi components that serve ML models as autoscaling, cost-optimized APIs on AWS EKS.

The package root is the public API::

    from modelstack import Cluster, ClusterHandle, ModelAPI, NodeGroup

Names are imported on first use, so `import modelstack.capacity.pricing` (pure maths) does not load the AWS and
Kubernetes SDKs. Deeper module paths are the inside of the package and may move between minor versions.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

# Public name -> the module that defines it.
_EXPORTS = {
    "Network": "modelstack.cluster.network",
    "Cluster": "modelstack.cluster.control_plane",
    "NodeGroup": "modelstack.cluster.node_group",
    "ClusterAutoscaler": "modelstack.cluster.autoscaler",
    "Karpenter": "modelstack.cluster.karpenter",
    "PlatformAddons": "modelstack.cluster.addons",
    "ClusterLogging": "modelstack.cluster.logging",
    "ClusterHandle": "modelstack.cluster.handle",
    "ModelAPI": "modelstack.serving.model_api",
    "TrafficSplitter": "modelstack.serving.traffic_splitter",
    "AsyncModelAPI": "modelstack.serving.async_model_api",
    "BatchModelAPI": "modelstack.serving.batch_model_api",
    "ModelQueue": "modelstack.serving.model_queue",
    "KedaIdentity": "modelstack.cluster.keda_identity",
}

__all__ = sorted(_EXPORTS) + ["__version__"]

if TYPE_CHECKING:  # for type checkers and IDEs; at run time __getattr__ imports lazily
    from modelstack.cluster.addons import PlatformAddons as PlatformAddons
    from modelstack.serving.async_model_api import AsyncModelAPI as AsyncModelAPI
    from modelstack.serving.batch_model_api import BatchModelAPI as BatchModelAPI
    from modelstack.serving.model_queue import ModelQueue as ModelQueue
    from modelstack.cluster.keda_identity import KedaIdentity as KedaIdentity
    from modelstack.cluster.autoscaler import ClusterAutoscaler as ClusterAutoscaler
    from modelstack.cluster.control_plane import Cluster as Cluster
    from modelstack.cluster.handle import ClusterHandle as ClusterHandle
    from modelstack.cluster.karpenter import Karpenter as Karpenter
    from modelstack.cluster.logging import ClusterLogging as ClusterLogging
    from modelstack.cluster.network import Network as Network
    from modelstack.cluster.node_group import NodeGroup as NodeGroup
    from modelstack.serving.model_api import ModelAPI as ModelAPI
    from modelstack.serving.traffic_splitter import TrafficSplitter as TrafficSplitter


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'modelstack' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))

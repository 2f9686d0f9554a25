"""Provider host for the modelstack component package (`pulumi package add .../components`).

Exposes the components whose args are plain serializable inputs. Cluster, ClusterAutoscaler and
PlatformAddons take a Python `ClusterHandle` (a Kubernetes provider object among others), so they are for
Python programs only; other languages build the cluster with pulumi-eks or their own code and hand ModelAPI
a kubeconfig and node pool names.
"""

from pulumi.provider.experimental import component_provider_host

from modelstack import ModelAPI, NodeGroup, TrafficSplitter

COMPONENTS = [ModelAPI, NodeGroup, TrafficSplitter]

if __name__ == "__main__":
    component_provider_host(name="modelstack", components=COMPONENTS)

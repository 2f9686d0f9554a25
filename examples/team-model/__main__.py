"""A team's own stack on the platform's cluster: its own spot node group and one ModelAPI placed on it."""
import pulumi
from modelstack import ClusterHandle, ModelAPI, NodeGroup

config = pulumi.Config()
cluster = config.require_object("cluster")  # outputs of the platform stack: names, role, subnets, OIDC
tags = {"team": "search", "environment": pulumi.get_stack()}  # cost allocation: every AWS resource is tagged
handle = ClusterHandle.existing("platform", kubeconfig=config.require_secret("kubeconfig"), **cluster)
nodes = NodeGroup("search-cpu", {
    "cluster_name": handle.cluster_name, "node_role_arn": handle.node_role_arn,
    "subnet_ids": handle.private_subnet_ids, "kubernetes_version": handle.kubernetes_version,
    "instance_types": ["m6i.xlarge", "m6a.xlarge"], "capacity_type": "SPOT", "min_size": 0, "max_size": 4, "tags": tags,
})
api = ModelAPI("reranker", {
    "image": config.require("image"), "compute": {"cpu": "2", "memory": "6Gi"},
    "placement": {"node_pool": nodes.node_pool, "spot": True},  # an Output: the pool exists once the group does
    "autoscaling": {"min_replicas": 1, "max_replicas": 8, "target_in_flight": 4},
    "ingress": {"group_name": config.require("ingress_group")}, "team": tags["team"], "environment": tags["environment"],
}, handle.options(depends_on=[nodes]))
pulumi.export("endpoint", api.endpoint)

"""A model API on an existing EKS cluster: a kubeconfig and node group names are all modelstack needs."""
import pulumi
from modelstack import ModelAPI

config = pulumi.Config()
api = ModelAPI("fraud-scorer", {
    "image": config.require("image"),
    "kubeconfig": config.require_secret("kubeconfig"),
    "compute": {"cpu": "2", "memory": "4Gi"},
    "placement": {"node_groups": config.require_object("node_groups")},
    "autoscaling": {"min_replicas": 2, "max_replicas": 10, "target_in_flight": 8},
    "ingress": {"group_name": config.require("ingress_group"), "scheme": "internal"},
    "team": "payments", "environment": pulumi.get_stack(),
})
pulumi.export("endpoint", api.endpoint)

"""modelstack: Pulumi components that serve ML models as autoscaling, cost-optimized APIs on AWS EKS."""

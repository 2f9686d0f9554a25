"""Pure rendering, the bottom layer: Kubernetes objects, autoscaling maths, ingress, IAM documents, node
templates, Helm values, labels and chart pins. No Pulumi resources, no config; tested without mocks."""

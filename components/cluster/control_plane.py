"""The EKS control plane for model serving, with the node IAM role and secrets encryption, on pulumi-eks."""

from __future__ import annotations

import json
from typing import Mapping, Optional, Sequence, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks
import pulumi_kubernetes as k8s
from typing_extensions import NotRequired

from modelstack.cluster.handle import string_list
from modelstack.render import iam

TYPE = "modelstack:index:Cluster"


class AccessEntryArgs(TypedDict):
    principal_arn: str
    """IAM role or user ARN granted access."""
    access: NotRequired[str]
    """"cluster-admin", "admin", "edit" or "view" (EKS access policies). Default "view"."""
    namespaces: NotRequired[Sequence[str]]
    """Limit the access to these namespaces. Default: cluster-wide."""
    cluster_creator: NotRequired[bool]
    """The principal that creates the cluster: EKS's bootstrap entry already makes it cluster admin (pulumi-eks sets
    `bootstrapClusterCreatorAdminPermissions: true` and offers no input to turn it off), so no entry is created for
    it; a second one would fail with ResourceInUseException. Default False."""


class ClusterArgs(TypedDict):
    kubernetes_version: pulumi.Input[str]
    """Kubernetes minor version ("1.33"). Required; bumping it upgrades the control plane in place, then the node
    groups that take `kubernetes_version` from this cluster roll (see NodeGroup)."""
    vpc_id: pulumi.Input[str]
    """The VPC (Network.vpc_id). Required."""
    private_subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    """Node and control-plane ENI subnets. Required."""
    public_subnet_ids: NotRequired[pulumi.Input[Sequence[pulumi.Input[str]]]]
    """Load balancer subnets. Default: none."""
    cluster_name: NotRequired[str]
    """Physical EKS cluster name. Default: the component name. Changing it replaces the cluster."""
    endpoint_private_access: NotRequired[bool]
    """Kubernetes API reachable from inside the VPC. Default True."""
    endpoint_public_access: NotRequired[bool]
    """Kubernetes API reachable from the internet (only from `public_access_cidrs`). Default False."""
    public_access_cidrs: NotRequired[Sequence[str]]
    """Allow-list for the public endpoint. Default: none given (EKS then allows 0.0.0.0/0: give a list)."""
    secrets_encryption: NotRequired[bool]
    """Envelope-encrypt Kubernetes secrets with a KMS key created here (rotation on). Default True."""
    secrets_kms_key_arn: NotRequired[pulumi.Input[str]]
    """Use this KMS key instead of creating one. Default: create one. Requires `secrets_encryption`."""
    deletion_protection: NotRequired[bool]
    """EKS deletion protection. Default False."""
    log_types: NotRequired[Sequence[str]]
    """Control plane log types sent to CloudWatch. Default ["api", "audit", "authenticator"]."""
    access_entries: NotRequired[Mapping[str, AccessEntryArgs]]
    """IAM principals granted EKS access policies, keyed by a logical name; one marked `cluster_creator` is recorded
    but gets no entry of ours. Default: none (the creating identity is admin through EKS's bootstrap entry)."""
    network_policy: NotRequired[bool]
    """Enforce Kubernetes NetworkPolicies with the VPC CNI's network policy agent. Default False (the CNI's
    default): model APIs render NetworkPolicies, but they are only enforced with this on."""
    vpc_cni_version: NotRequired[pulumi.Input[str]]
    """vpc-cni managed add-on version. Default: the newest EKS offers for the cluster version (follows upgrades)."""
    kube_proxy_version: NotRequired[pulumi.Input[str]]
    """kube-proxy managed add-on version. Default: the newest for the cluster version (follows upgrades)."""
    node_policy_arns: NotRequired[Sequence[str]]
    """Extra IAM policy ARNs for the node role (Cortex's user-supplied policies). Default: none."""
    support_type: NotRequired[str]
    """EKS upgrade policy, "STANDARD" or "EXTENDED". Default "STANDARD": extended support costs 6x per hour."""
    tags: NotRequired[Mapping[str, str]]
    """Tags on every AWS resource (labels.base_tags). Default: none."""


class Cluster(pulumi.ComponentResource):
    """An EKS cluster with API-mode access entries, IRSA, KMS secrets encryption, managed vpc-cni and kube-proxy.

    Design notes:
    - No default node group: capacity comes from NodeGroup components (managed node groups).
    - coredns is *not* enabled here: a managed coredns add-on created before any node exists stays DEGRADED and
      its creation times out. PlatformAddons installs it once the system node group exists.
    - AmazonEKS_CNI_Policy sits on the node role rather than on an IRSA role for aws-node: the IRSA role would
      need the OIDC provider that this same eks.Cluster creates, and vpc-cni is created inside it (a cycle).
    - skip_default_security_groups: managed node groups use the security group EKS creates for the cluster.
    """

    cluster_name: pulumi.Output[str]
    """EKS cluster name."""
    kubernetes_version: pulumi.Output[str]
    """The control plane's version, as EKS reports it (node groups take this to update after the control plane)."""
    kubeconfig: pulumi.Output[str]
    """Kubeconfig (JSON) authenticating with `aws eks get-token`."""
    provider: k8s.Provider
    """Kubernetes provider for this cluster (not an output; Python attribute)."""
    oidc_provider_arn: pulumi.Output[str]
    """IAM OIDC provider ARN, for IRSA trust policies."""
    oidc_provider_url: pulumi.Output[str]
    """OIDC issuer URL (https://...), for IRSA condition keys."""
    node_role_arn: pulumi.Output[str]
    """IAM role of every node group; a resource taking it also waits for (and outlives) the role's policies."""
    node_role_name: pulumi.Output[str]
    """Name of that role (to attach more policies)."""
    vpc_id: pulumi.Output[str]
    private_subnet_ids: pulumi.Output[Sequence[str]]
    public_subnet_ids: pulumi.Output[Sequence[str]]
    cluster_security_group_id: pulumi.Output[str]
    """Security group EKS made for the control plane and managed nodes."""
    secrets_kms_key_arn: pulumi.Output[Optional[str]]
    """KMS key encrypting secrets (None when encryption is off)."""

    def __init__(self, name: str, args: ClusterArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.get("tags") or {})
        cluster_name = args.get("cluster_name", name)

        node_role = aws.iam.Role(
            f"{name}-node", assume_role_policy=json.dumps(iam.assume_role_policy("ec2.amazonaws.com")),
            description=f"Nodes of EKS cluster {cluster_name}", tags=tags, opts=child)
        policies = [iam.managed_policy_arn(p) for p in iam.NODE_MANAGED_POLICIES] + list(args.get("node_policy_arns") or [])
        attachments = [aws.iam.RolePolicyAttachment(f"{name}-node-{arn.rsplit('/', 1)[-1]}", role=node_role.name,
                                                    policy_arn=arn, opts=child) for arn in policies]

        key_arn: Optional[pulumi.Input[str]] = None
        if args.get("secrets_encryption", True):
            key_arn = args.get("secrets_kms_key_arn")
            if key_arn is None:
                key = aws.kms.Key(f"{name}-secrets", description=f"EKS secrets envelope encryption for {cluster_name}",
                                  enable_key_rotation=True, deletion_window_in_days=30, tags=tags, opts=child)
                key_arn = key.arn
        elif args.get("secrets_kms_key_arn") is not None:
            raise ValueError(f"{name}: secrets_kms_key_arn given but secrets_encryption is False")

        public = args.get("endpoint_public_access", False)
        private = args.get("endpoint_private_access", True)
        if not (public or private):
            raise ValueError(f"{name}: the API endpoint must be private, public or both")
        cidrs = list(args.get("public_access_cidrs") or [])
        if cidrs and not public:
            raise ValueError(f"{name}: public_access_cidrs given but endpoint_public_access is False")

        self._eks = eks.Cluster(
            f"{name}-eks",
            name=cluster_name,
            version=args["kubernetes_version"],
            vpc_id=args["vpc_id"],
            private_subnet_ids=args["private_subnet_ids"],
            public_subnet_ids=args.get("public_subnet_ids"),
            node_associate_public_ip_address=False,
            skip_default_node_group=True,
            skip_default_security_groups=True,
            # Access entries only. Nodes join through the EC2_LINUX entry EKS creates for a managed node group's role;
            # pulumi-eks refuses `instance_roles` under API mode (data/UPSTREAM.md, pulumi-eks).
            authentication_mode=eks.AuthenticationMode.API,
            access_entries=_access_entries(args.get("access_entries") or {}, tags),
            create_oidc_provider=True,
            encryption_config_key_arn=key_arn,
            endpoint_private_access=private,
            endpoint_public_access=public,
            public_access_cidrs=cidrs or None,
            enabled_cluster_log_types=list(args.get("log_types", ["api", "audit", "authenticator"])),
            deletion_protection=args.get("deletion_protection", False),
            vpc_cni_options=eks.VpcCniOptionsArgs(addon_version=args.get("vpc_cni_version"),
                                                  enable_network_policy=args.get("network_policy", False)),
            kube_proxy_addon_options=eks.KubeProxyAddonOptionsArgs(version=args.get("kube_proxy_version")),
            coredns_addon_options=eks.CoreDnsAddonOptionsArgs(enabled=False),
            upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(support_type=args.get("support_type", "STANDARD")),
            tags=tags,
            opts=child,
        )
        eks_cluster = self._eks.eks_cluster
        self.cluster_name = eks_cluster.apply(lambda c: c.name)
        self.kubernetes_version = eks_cluster.apply(lambda c: c.version)
        self.kubeconfig = self._eks.kubeconfig_json
        self.provider = k8s.Provider(f"{name}-k8s", kubeconfig=self._eks.kubeconfig_json, enable_config_map_mutable=True,
                                     opts=child)
        self.oidc_provider_arn = self._eks.oidc_provider_arn
        self.oidc_provider_url = self._eks.oidc_provider_url
        # Node groups take the role through this output, so they depend on its policy attachments too: `pulumi
        # destroy` deletes the groups (draining their nodes) before the permissions those nodes run on.
        self.node_role_arn = pulumi.Output.all(node_role.arn, *[a.id for a in attachments]).apply(lambda v: v[0])
        self.node_role_name = node_role.name
        self.vpc_id = pulumi.Output.from_input(args["vpc_id"])
        self.private_subnet_ids = string_list(args["private_subnet_ids"])
        self.public_subnet_ids = string_list(args.get("public_subnet_ids") or [])
        self.cluster_security_group_id = self._eks.cluster_security_group_id
        self.secrets_kms_key_arn = pulumi.Output.from_input(key_arn)
        self.register_outputs({
            "cluster_name": self.cluster_name,
            "kubernetes_version": self.kubernetes_version,
            "kubeconfig": pulumi.Output.secret(self.kubeconfig),
            "oidc_provider_arn": self.oidc_provider_arn,
            "oidc_provider_url": self.oidc_provider_url,
            "node_role_arn": self.node_role_arn,
            "node_role_name": self.node_role_name,
            "vpc_id": self.vpc_id,
            "private_subnet_ids": self.private_subnet_ids,
            "public_subnet_ids": self.public_subnet_ids,
            "cluster_security_group_id": self.cluster_security_group_id,
            "secrets_kms_key_arn": self.secrets_kms_key_arn,
        })


def _access_entries(entries: Mapping[str, AccessEntryArgs], tags: Mapping[str, str]) -> dict[str, eks.AccessEntryArgs]:
    creators = [k for k, e in entries.items() if e.get("cluster_creator")]
    if len(creators) > 1:
        raise ValueError(f"access_entries: only one principal creates the cluster, got cluster_creator on {creators}")
    out = {}
    for key, e in entries.items():
        if e.get("cluster_creator"):
            if e.get("access", "view") != "cluster-admin" or e.get("namespaces"):
                raise ValueError(f"access_entries.{key}: the cluster creator's bootstrap entry is cluster-admin, "
                                 "cluster-wide; give access cluster-admin and no namespaces")
            continue  # EKS made its entry at creation (bootstrapClusterCreatorAdminPermissions)
        out[key] = eks.AccessEntryArgs(
            principal_arn=e["principal_arn"],
            access_policies={
                e.get("access", "view"): eks.AccessPolicyAssociationArgs(
                    policy_arn=iam.access_policy_arn(e.get("access", "view")),
                    access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(**iam.access_scope(list(e.get("namespaces") or []))),
                ),
            },
            tags=dict(tags),
        )
    return out

"""Security rules: who can reach the cluster, what runs on it, and what it may do in the account."""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from modelstack.render.node_templates import WEIGHTS_CACHE_ROOT

from .rule import (
    NODE_CLASS, NODE_GROUP, PROD_ONLY, WORKLOAD_TYPES, Context, Param, annotations_of, as_list, containers, get, glob_any,
    config_file, in_envs, is_unknown, key, parse_json_document, pod_spec, resource_rule,
)

EKS_COMPONENT = "eks:index:Cluster"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
INGRESS_TYPES = frozenset({"kubernetes:networking.k8s.io/v1:Ingress"})
SERVICE = "kubernetes:core/v1:Service"

ALB_SCHEME = "alb.ingress.kubernetes.io/scheme"
ALB_CIDRS = "alb.ingress.kubernetes.io/inbound-cidrs"
ALB_CERT = "alb.ingress.kubernetes.io/certificate-arn"
NLB_SCHEME = "service.beta.kubernetes.io/aws-load-balancer-scheme"
NLB_INTERNAL = "service.beta.kubernetes.io/aws-load-balancer-internal"
NLB_CERT = "service.beta.kubernetes.io/aws-load-balancer-ssl-cert"


@resource_rule(
    "eks-private-endpoint", category="security", level="mandatory", types={EKS_COMPONENT, EKS_CLUSTER},
    description="The EKS API endpoint is private in production.",
    why="A public Kubernetes API is one leaked kubeconfig away from the cluster; production is reached "
        "through the VPC (VPN, bastion or CI runners inside it).",
    params={"environments": PROD_ONLY},
)
def eks_private_endpoint(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    if not in_envs(ctx.env_of(props), ctx["environments"]):
        return
    base = "" if resource_type == EKS_COMPONENT else "vpcConfig."
    public = get(props, base + "endpointPublicAccess")
    private = get(props, base + "endpointPrivateAccess")
    if not is_unknown(public) and public is not False:
        shown = "unset (defaults to true)" if public is None else repr(public)
        yield f"endpointPublicAccess is {shown}; set it to false"
    if not is_unknown(private) and private is not True:
        shown = "unset (defaults to false)" if private is None else repr(private)
        yield f"endpointPrivateAccess is {shown}; set it to true so nodes and operators reach the API in the VPC"


@resource_rule(
    "eks-secrets-encryption", category="security", level="mandatory", types={EKS_COMPONENT, EKS_CLUSTER},
    description="Kubernetes secrets are envelope-encrypted with a KMS key.",
    why="Without envelope encryption, secrets sit in etcd readable by anyone with a backup or etcd access.",
)
def eks_secrets_encryption(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    if resource_type == EKS_COMPONENT:
        arn = get(props, "encryptionConfigKeyArn")
        if not is_unknown(arn) and not arn:
            yield "encryptionConfigKeyArn is not set; pass a KMS key ARN"
        return
    config = get(props, "encryptionConfig")
    if is_unknown(config):
        return
    resources = get(props, "encryptionConfig.resources")
    arn = get(props, "encryptionConfig.provider.keyArn")
    if not config or (not is_unknown(resources) and "secrets" not in as_list(resources)):
        yield "encryptionConfig does not cover \"secrets\""
    elif not is_unknown(arn) and not arn:
        yield "encryptionConfig.provider.keyArn is not set"


@resource_rule(
    "kms-key-rotation", category="security", level="mandatory", types={"aws:kms/key:Key"},
    description="Symmetric KMS keys rotate yearly.",
    why="Rotation limits how much data one compromised key version protects; AWS does it at no extra cost.",
)
def kms_key_rotation(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    spec = get(props, "customerMasterKeySpec") or get(props, "keySpec") or "SYMMETRIC_DEFAULT"
    if is_unknown(spec) or spec != "SYMMETRIC_DEFAULT":
        return
    rotation = get(props, "enableKeyRotation")
    if not is_unknown(rotation) and rotation is not True:
        yield f"enableKeyRotation is {rotation!r}; set it to true"


@resource_rule(
    "nodes-imdsv2", category="security", level="mandatory", types={LAUNCH_TEMPLATE, NODE_GROUP, NODE_CLASS},
    description="Worker nodes require IMDSv2 with a small hop limit.",
    why="IMDSv1 lets any SSRF in a model server read the node role's credentials; a hop limit of 1-2 "
        "keeps pods that are not meant to reach the metadata service away from it.",
    params={"max_hop_limit": Param(2, {"type": "integer", "minimum": 1, "maximum": 64},
                                   "Highest httpPutResponseHopLimit allowed.")},
)
def nodes_imdsv2(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    if resource_type == NODE_GROUP:
        template = get(props, "launchTemplate")
        if not is_unknown(template) and not template:
            yield ("no launchTemplate: the EKS default launch template does not enforce IMDSv2; "
                   "pass a launch template with metadataOptions.httpTokens=required")
        return
    prefix = "spec." if resource_type == NODE_CLASS else ""
    tokens = get(props, f"{prefix}metadataOptions.httpTokens")
    # an EC2NodeClass without metadataOptions gets Karpenter's default: tokens required, hop limit 1
    if not is_unknown(tokens) and tokens != "required" and not (resource_type == NODE_CLASS and tokens is None):
        yield f"{prefix}metadataOptions.httpTokens is {tokens!r}; set it to \"required\""
    hops = get(props, f"{prefix}metadataOptions.httpPutResponseHopLimit")
    if isinstance(hops, (int, float)) and hops > ctx["max_hop_limit"]:
        yield f"{prefix}metadataOptions.httpPutResponseHopLimit is {hops:g}; at most {ctx['max_hop_limit']} is allowed"


@resource_rule(
    "ebs-encryption", category="security", level="mandatory", types={LAUNCH_TEMPLATE, NODE_CLASS},
    description="Node volumes are encrypted.",
    why="Model weights, caches and container layers land on the node's EBS volumes.",
)
def ebs_encryption(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    mappings = get(props, "spec.blockDeviceMappings" if resource_type == NODE_CLASS else "blockDeviceMappings")
    if is_unknown(mappings):
        return
    if not mappings:
        yield "no blockDeviceMappings: the root volume's encryption falls back to the account default"
        return
    for m in as_list(mappings):
        if not isinstance(m, Mapping) or "ebs" not in m:
            continue
        encrypted = key(m.get("ebs"), "encrypted")
        if not is_unknown(encrypted) and str(encrypted).lower() != "true":
            yield f"volume {m.get('deviceName', '?')} has ebs.encrypted={encrypted!r}; set it to \"true\""


# Read-only wildcards that the cluster add-ons need to discover what they manage. Listing every
# Describe action breaks the add-ons when AWS adds instance families or resource kinds.
WILDCARD_EXCEPTIONS = [
    "ec2:Describe*",                    # cluster-autoscaler, AWS Load Balancer Controller: subnets, SGs, instances
    "autoscaling:Describe*",            # cluster-autoscaler: discover node-group ASGs by tag
    "elasticloadbalancing:Describe*",   # AWS Load Balancer Controller: reconcile existing load balancers
    "eks:Describe*",                    # cluster-autoscaler: DescribeNodegroup for scale-from-zero templates
]
IAM_DOC_TYPES = {
    "aws:iam/policy:Policy": "policy",
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/userPolicy:UserPolicy": "policy",
    "aws:iam/groupPolicy:GroupPolicy": "policy",
}


def _statements(document: Any) -> list[tuple[str, Mapping[str, Any]]]:
    out = []
    for i, s in enumerate(as_list(key(document, "Statement"))):
        if isinstance(s, Mapping):
            out.append((str(s.get("Sid") or i), s))
    return out


def _policy_documents(resource_type: str, props: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    if resource_type in IAM_DOC_TYPES:
        yield IAM_DOC_TYPES[resource_type], get(props, IAM_DOC_TYPES[resource_type])
    elif resource_type == "aws:iam/role:Role":
        for i, inline in enumerate(as_list(get(props, "inlinePolicies"))):
            yield f"inlinePolicies[{key(inline, 'name') or i}]", key(inline, "policy")


@resource_rule(
    "iam-no-wildcard-actions", category="security", level="mandatory",
    types=set(IAM_DOC_TYPES) | {"aws:iam/role:Role"},
    description="IAM policies allow no wildcard actions outside the documented exceptions (and outside dev).",
    why="`s3:*` or `*` grants every future action of a service too; least privilege is written down. A model's "
        "`aws.statements` may opt in to wildcards (`allow_wildcard_actions`) to explore in dev; elsewhere they are flagged.",
    params={"exceptions": Param(WILDCARD_EXCEPTIONS, {"type": "array", "items": {"type": "string"}},
                                "Wildcard actions that are allowed (exact, case-insensitive)."),
            "allowed_environments": Param(["dev"], {"type": "array", "items": {"type": "string"}},
                                          "Environments where wildcard actions pass (opted in per model in config).")},
)
def iam_no_wildcard_actions(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    if in_envs(ctx.env_of(props), ctx["allowed_environments"]):
        return
    allowed = {a.lower() for a in ctx["exceptions"]}
    for where, raw in _policy_documents(resource_type, props):
        document = parse_json_document(raw)
        if is_unknown(document) or raw is None:
            continue
        if document is None:
            yield f"{where} is not a JSON policy document"
            continue
        for sid, statement in _statements(document):
            if statement.get("Effect") != "Allow":
                continue
            if "NotAction" in statement:
                yield f"{where} statement {sid} allows NotAction, which grants every other action"
            for action in as_list(statement.get("Action")):
                if isinstance(action, str) and "*" in action and action.lower() not in allowed:
                    yield f"{where} statement {sid} allows wildcard action {action!r}"


ADMIN_POLICIES = ["AdministratorAccess", "PowerUserAccess", "IAMFullAccess"]


@resource_rule(
    "iam-no-admin-policies", category="security", level="mandatory",
    types={"aws:iam/rolePolicyAttachment:RolePolicyAttachment", "aws:iam/userPolicyAttachment:UserPolicyAttachment",
           "aws:iam/groupPolicyAttachment:GroupPolicyAttachment", "aws:iam/policyAttachment:PolicyAttachment",
           "aws:iam/role:Role"},
    description="No administrator-level AWS managed policy is attached.",
    why="Node and add-on roles are reachable from pods; an admin policy turns any pod escape into account takeover.",
    params={"forbidden_policies": Param(ADMIN_POLICIES, {"type": "array", "items": {"type": "string"}},
                                        "AWS managed policy names that may not be attached.")},
)
def iam_no_admin_policies(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    arns = as_list(get(props, "managedPolicyArns")) if resource_type == "aws:iam/role:Role" \
        else [get(props, "policyArn")]
    for arn in arns:
        if isinstance(arn, str) and ":policy/" in arn and arn.startswith("arn:aws"):
            name = arn.rsplit("/", 1)[-1]
            if ":iam::aws:policy/" in arn and name in ctx["forbidden_policies"]:
                yield f"attaches {arn}"


@resource_rule(
    "iam-trust-scoped", category="security", level="mandatory", types={"aws:iam/role:Role"},
    description="Role trust policies name their principals; IRSA trusts are scoped to one service account.",
    why="A `*` principal lets any AWS account assume the role; an OIDC trust without a `:sub` condition "
        "lets every service account in the cluster assume it.",
)
def iam_trust_scoped(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    document = parse_json_document(get(props, "assumeRolePolicy"))
    if is_unknown(document) or document is None:
        return
    for sid, statement in _statements(document):
        if statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal")
        condition = statement.get("Condition") or {}
        aws = as_list(key(principal, "AWS")) if isinstance(principal, Mapping) else [principal]
        if "*" in aws and not condition:
            yield f"statement {sid} trusts any principal (\"*\") without a condition"
        federated = as_list(key(principal, "Federated")) if isinstance(principal, Mapping) else []
        if any(isinstance(f, str) and "oidc-provider" in f for f in federated):
            keys = [k for op in condition.values() if isinstance(op, Mapping) for k in op]
            if not any(str(k).endswith(":sub") for k in keys):
                yield f"statement {sid} trusts the cluster OIDC provider without a `:sub` condition"


def _security_contexts(resource_type: str, props: Mapping[str, Any]):
    spec = pod_spec(resource_type, props)
    if is_unknown(spec) or not isinstance(spec, Mapping):
        return None, []
    return key(spec, "securityContext", {}), containers(spec)


@resource_rule(
    "pod-non-root", category="security", level="mandatory", types=WORKLOAD_TYPES,
    description="Pods run as a non-root user.",
    why="Root in a container is root on the node after one kernel or runtime escape.",
)
def pod_non_root(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    pod_sc, items = _security_contexts(resource_type, props)
    if pod_sc is None:
        return
    pod_non_root = key(pod_sc, "runAsNonRoot")
    pod_user = key(pod_sc, "runAsUser")
    if pod_user == 0:
        yield "pod securityContext.runAsUser is 0"
    for label, c in items:
        sc = key(c, "securityContext", {})
        non_root = key(sc, "runAsNonRoot", pod_non_root)
        if key(sc, "runAsUser") == 0:
            yield f"{label}: securityContext.runAsUser is 0"
        elif not is_unknown(non_root) and non_root is not True:
            yield f"{label}: runAsNonRoot is not true (set it on the pod or the container)"


@resource_rule(
    "pod-no-privilege-escalation", category="security", level="mandatory", types=WORKLOAD_TYPES,
    description="Containers cannot escalate privileges: no privileged mode, allowPrivilegeEscalation false, "
                "all capabilities dropped, no host namespaces.",
    why="Model servers need none of these; each one is a path from a compromised process to the node.",
)
def pod_no_privilege_escalation(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    spec = pod_spec(resource_type, props)
    pod_sc, items = _security_contexts(resource_type, props)
    if pod_sc is None:
        return
    for host in ("hostNetwork", "hostPID", "hostIPC"):
        if key(spec, host) is True:
            yield f"pod sets {host}: true"
    for label, c in items:
        sc = key(c, "securityContext", {})
        if is_unknown(sc):
            continue
        if key(sc, "privileged") is True:
            yield f"{label}: privileged is true"
        escalation = key(sc, "allowPrivilegeEscalation")
        if not is_unknown(escalation) and escalation is not False:
            yield f"{label}: allowPrivilegeEscalation is not false (Kubernetes defaults it to true)"
        drop = get(sc, "capabilities.drop")
        if is_unknown(drop) or any(is_unknown(d) for d in as_list(drop)):
            continue
        if "ALL" not in [str(d).upper() for d in as_list(drop)]:
            yield f"{label}: capabilities.drop does not include \"ALL\""


@resource_rule(
    "pod-host-path", category="security", level="mandatory", types=WORKLOAD_TYPES,
    description="No hostPath volumes, except the LLM weights' node cache: that folder exactly (type Directory), "
                "written only by init containers, read-only for every other container.",
    why="A hostPath is the node's filesystem inside the pod; the one modelstack needs is the node-wide weight cache, "
        "in a namespace whose Pod Security admission had to allow hostPath for it.",
    params={"allowed_paths": Param([WEIGHTS_CACHE_ROOT], {"type": "array", "items": {"type": "string"}},
                                   "Host folders a pod may mount (the node cache's root).")},
)
def pod_host_path(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    spec = pod_spec(resource_type, props)
    volumes = key(spec, "volumes")
    if is_unknown(volumes):
        return
    allowed = {str(p).rstrip("/") for p in ctx["allowed_paths"]}
    host = set()
    for v in as_list(volumes):
        hp = key(v, "hostPath") if isinstance(v, Mapping) else None
        if hp is None or is_unknown(hp):
            continue
        name, path, kind = key(v, "name"), key(hp, "path"), key(hp, "type")
        host.add(name)
        if is_unknown(path):
            continue
        if not isinstance(path, str) or path.rstrip("/") not in allowed:
            yield f"volume {name}: hostPath {path!r} is not an allowed host folder ({', '.join(sorted(allowed))})"
        elif kind != "Directory":
            yield f"volume {name}: hostPath type {kind!r}; \"Directory\" (the node prepares the folder)"
    for label, c in containers(spec):
        for m in as_list(key(c, "volumeMounts")):
            if not isinstance(m, Mapping) or key(m, "name") not in host:
                continue
            sub = key(m, "subPath")
            if isinstance(sub, str) and ".." in sub.split("/"):
                yield f"{label}: mounts {key(m, 'name')} at subPath {sub!r} (no '..')"
            if not label.startswith("init ") and key(m, "readOnly") is not True:
                yield f"{label}: mounts hostPath volume {key(m, 'name')} writable (readOnly: true; only init containers fill it)"


OPEN_CIDRS = ["0.0.0.0/0", "::/0"]


def _public_lb(resource_type: str, props: Mapping[str, Any]) -> tuple[bool, str | None]:
    """Whether the resource is an internet-facing load balancer, and the annotation/field holding its CIDRs."""
    notes = annotations_of(props)
    if is_unknown(notes):
        return False, None
    if resource_type in INGRESS_TYPES:
        return key(notes, ALB_SCHEME) == "internet-facing", ALB_CIDRS
    if resource_type == SERVICE and get(props, "spec.type") == "LoadBalancer":
        scheme = key(notes, NLB_SCHEME)
        internal = str(key(notes, NLB_INTERNAL, "")).lower() in ("true", "0.0.0.0/0")
        # Without a scheme annotation the in-tree controller creates an internet-facing load balancer.
        return (scheme == "internet-facing" or (scheme is None and not internal)), None
    return False, None


@resource_rule(
    "lb-cidr-allowlist", category="security", level="mandatory", types=INGRESS_TYPES | {SERVICE},
    description="Internet-facing load balancers carry a CIDR allow-list that is not the whole internet.",
    why="Model APIs are expensive to call; an open endpoint is a cost and abuse target.",
    params={"forbidden_cidrs": Param(OPEN_CIDRS, {"type": "array", "items": {"type": "string"}},
                                     "CIDRs that do not count as an allow-list.")},
)
def lb_cidr_allowlist(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    public, annotation = _public_lb(resource_type, props)
    if not public:
        return
    if annotation:
        raw = key(annotations_of(props), annotation)
        where = f"annotation {annotation}"
        cidrs = [c.strip() for c in raw.split(",") if c.strip()] if isinstance(raw, str) else []
    else:
        raw = get(props, "spec.loadBalancerSourceRanges")
        where = "spec.loadBalancerSourceRanges"
        cidrs = [str(c) for c in as_list(raw)]
    if is_unknown(raw):
        return
    if not cidrs:
        yield f"internet-facing load balancer without {where}"
    for cidr in cidrs:
        if cidr in ctx["forbidden_cidrs"]:
            yield f"{where} allows {cidr}"


@resource_rule(
    "lb-tls", category="security", level="mandatory", types=INGRESS_TYPES | {SERVICE},
    description="Internet-facing load balancers terminate TLS with an ACM certificate.",
    why="Requests and model outputs must not cross the internet in clear text.",
)
def lb_tls(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    public, _ = _public_lb(resource_type, props)
    if not public:
        return
    annotation = ALB_CERT if resource_type in INGRESS_TYPES else NLB_CERT
    cert = key(annotations_of(props), annotation)
    if not is_unknown(cert) and not cert:
        yield f"internet-facing load balancer without {annotation}"


DEFAULT_REGISTRIES = ["*.dkr.ecr.*.amazonaws.com", "public.ecr.aws", "nvcr.io", "registry.k8s.io"]


def image_registry(image: str) -> str:
    """The registry host of an image reference, as Docker resolves it (no host -> docker.io)."""
    first, sep, _ = image.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first.lower()
    return "docker.io"


def _images(resource_type: str, props: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    spec = pod_spec(resource_type, props)
    if is_unknown(spec):
        return
    for label, c in containers(spec):
        yield label, key(c, "image")


@resource_rule(
    "allowed-image-registries", category="security", level="mandatory", types=WORKLOAD_TYPES,
    description="Container images come from allowed registries.",
    why="Images run with the model's credentials and data; they come from registries the platform scans.",
    params={"allowed_registries": Param(DEFAULT_REGISTRIES, {"type": "array", "items": {"type": "string"}},
                                        "Registry host globs (the part of the image before the first '/').")},
)
def allowed_image_registries(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    for label, image in _images(resource_type, props):
        if not isinstance(image, str):
            continue
        registry = image_registry(image)
        if not glob_any(registry, ctx["allowed_registries"]):
            yield (f"{label}: image {image!r} is from {registry}, not an allowed registry "
                   f"({', '.join(ctx['allowed_registries'])}); to allow it, add {registry!r} (a host glob) to "
                   f"`allowed-image-registries.allowed_registries` in {config_file(ctx.env_of(props))}, with the "
                   f"defaults you keep (the list replaces them)")


@resource_rule(
    "image-pinned", category="security", level="advisory", types=WORKLOAD_TYPES,
    description="Images are pinned to a tag other than `latest`, or to a digest.",
    why="A moving tag changes what runs without a diff in the preview and breaks rollbacks.",
    params={"require_digest": Param(False, {"type": "boolean"}, "Require an @sha256 digest, not only a tag.")},
)
def image_pinned(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    for label, image in _images(resource_type, props):
        if not isinstance(image, str) or "@sha256:" in image:
            continue
        last = image.rsplit("/", 1)[-1]
        tag = last.split(":", 1)[1] if ":" in last else None
        if ctx["require_digest"]:
            yield f"{label}: image {image!r} is not pinned to a digest"
        elif tag is None or tag == "latest":
            yield f"{label}: image {image!r} has no tag or uses :latest"


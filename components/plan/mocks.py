"""Pulumi's in-process mocks, made to record what a program registers and to run without threading faults.

The stock ``MockMonitor`` deserializes inputs (including resource references) on the SDK's worker thread,
which intermittently fails with "Future attached to a different loop" (pulumi 3.272, with resource references in
mocked outputs; a synchronous RegisterResource ran 100 runs clean). This monitor
decodes the protobuf structs itself, synchronously, into plain Python values: resource references become
their URN strings, secrets are masked, unknowns are dropped. It also rejects duplicate URNs, as the engine does.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from google.protobuf import json_format, struct_pb2
from pulumi.runtime import mocks
from pulumi.runtime.settings import get_project, get_stack
from pulumi.runtime.proto import resource_pb2

_SIG = "4dabf18193072939515e22adb298388d"
_SECRET = "1b47061264138c4ac30d75fd1eb44270"
_RESOURCE = "5cf8f73096256a8f31e491e813e4eb8e"
_OUTPUT = "d0e6a833031e9bbcd3f4e8bde6ca49a4"
_UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
SECRET_MASK = "[secret]"
ACCOUNT_ID = "123456789012"


class _Drop:
    pass


_DROP = _Drop()


def decode_struct(struct: struct_pb2.Struct) -> Any:
    """A struct as plain data: resource references become their URN strings, secrets are masked, unknowns are
    dropped (`_DROP` when the whole value is unknown), integral numbers are ints. Read from the protobuf message
    directly, in one pass with no intermediate JSON objects: the plan decodes every input of every resource."""
    fields = struct.fields
    sig = fields.get(_SIG)
    if sig is not None and sig.WhichOneof("kind") == "string_value":
        tag = sig.string_value
        if tag == _SECRET:
            return SECRET_MASK
        if tag == _RESOURCE:
            urn = fields.get("urn")
            return "" if urn is None else urn.string_value if urn.WhichOneof("kind") == "string_value" else _raw(urn)
        if tag == _OUTPUT:
            secret = fields.get("secret")
            if secret is not None and _raw(secret):
                return SECRET_MASK
            inner = fields.get("value")
            return _decode_value(inner) if inner is not None else _DROP
    out = {}
    for k, v in fields.items():
        d = _decode_value(v)
        if d is not _DROP:
            out[k] = d
    return out


def _decode_value(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        text = value.string_value
        return _DROP if text == _UNKNOWN else text
    if kind == "number_value":
        number = value.number_value
        return int(number) if number.is_integer() else number
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return decode_struct(value.struct_value)
    if kind == "list_value":
        return [None if (v := _decode_value(x)) is _DROP else v for x in value.list_value.values]
    return None


def _raw(value: struct_pb2.Value) -> Any:
    """`value` as MessageToDict gives it, undecoded."""
    return json_format.MessageToDict(value)


def _struct(d: dict[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(d)
    return s


def _response(state: dict[str, Any]) -> struct_pb2.Struct:
    """A resource's state as the engine returns it: JSON values (a state that is not JSON as it stands, e.g. with
    non-string keys from a custom outputs function, goes through JSON first)."""
    try:
        return _struct(state)
    except (TypeError, ValueError, AttributeError):
        return _struct(json.loads(json.dumps(state)))


@dataclass
class Recorded:
    """One registered resource, as the engine would have seen it."""

    urn: str
    type: str
    name: str
    parent: Optional[str]
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    custom: bool
    remote: bool
    provider: Optional[str] = None
    dependencies: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict[str, Any])

    def to_json(self) -> dict[str, Any]:
        return {"urn": self.urn, "type": self.type, "name": self.name, "parent": self.parent,
                "inputs": self.inputs, "provider": self.provider, "options": self.options, "aliases": self.aliases}


OutputsFn = Callable[[str, str, dict[str, Any]], dict[str, Any]]
ROOT_STACK_TYPE = "pulumi:pulumi:Stack"
STACK_REFERENCE = "pulumi:pulumi:StackReference"


def urn_of(parent: str, typ: str, name: str, stack: str, project: str) -> str:
    """The URN the Pulumi engine gives a resource of `typ` named `name` under `parent` ("" for none)."""
    qualified = typ
    if parent:
        parent_type = parent.split("::")[2]
        if parent_type != ROOT_STACK_TYPE:
            qualified = f"{parent_type}${typ}"
    return f"urn:pulumi:{stack}::{project}::{qualified}::{name}"


def default_outputs(typ: str, name: str, inputs: dict[str, Any], region: str = "us-east-1") -> dict[str, Any]:
    """Plausible provider-computed outputs, so dependent resources see known values offline."""
    out: dict[str, Any] = {}
    service = typ.split(":")[1].split("/")[0] if typ.startswith("aws:") else ""
    if typ.startswith("aws:"):
        out["arn"] = f"arn:aws:{service}:{region}:{ACCOUNT_ID}:{typ.split(':')[-1].lower()}/{name}"
    if typ == "aws:iam/role:Role":
        out.update(arn=f"arn:aws:iam::{ACCOUNT_ID}:role/{name}", name=inputs.get("name", name))
    elif typ == "aws:iam/policy:Policy":
        out.update(arn=f"arn:aws:iam::{ACCOUNT_ID}:policy/{name}")
    elif typ == "aws:kms/key:Key":
        out.update(keyId=f"{name}-key-id")
    elif typ == "aws:eks/nodeGroup:NodeGroup":
        out.update(resources=[{"autoscalingGroups": [{"name": f"eks-{inputs.get('nodeGroupName', name)}-asg"}]}], status="ACTIVE")
    elif typ == "aws:ec2/subnet:Subnet":
        out.update(availabilityZone=inputs.get("availabilityZone"))
    elif typ == "eks:index:Cluster":
        oidc = f"oidc.eks.{region}.amazonaws.com/id/{name.upper()}"
        out.update(kubeconfigJson=json.dumps({"apiVersion": "v1", "kind": "Config", "clusters": [{"name": name}]}),
                   oidcProviderArn=f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{oidc}", oidcProviderUrl=f"https://{oidc}",
                   oidcIssuer=oidc, clusterSecurityGroupId="sg-" + hashlib.sha256(name.encode()).hexdigest()[:17])
    elif typ == "aws:ec2/launchTemplate:LaunchTemplate":
        out.update(latestVersion=1)
    elif typ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
        out.update(url=inputs.get("url"))
    elif typ == "aws:amp/workspace:Workspace":
        ws = "ws-" + hashlib.sha256(name.encode()).hexdigest()[:8]
        out.update(arn=f"arn:aws:aps:{region}:{ACCOUNT_ID}:workspace/{ws}",
                   prometheusEndpoint=f"https://aps-workspaces.{region}.amazonaws.com/workspaces/{ws}/")
    elif typ == "aws:grafana/workspace:Workspace":
        out.update(endpoint=f"g-{hashlib.sha256(name.encode()).hexdigest()[:10]}.grafana-workspace.{region}.amazonaws.com")
    elif typ == "aws:grafana/workspaceServiceAccount:WorkspaceServiceAccount":
        out.update(serviceAccountId=f"{name}-sa")
    elif typ == "aws:grafana/workspaceServiceAccountToken:WorkspaceServiceAccountToken":
        out.update(key=f"{name}-token", serviceAccountTokenId=f"{name}-token-id")
    elif typ == "aws:eks/podIdentityAssociation:PodIdentityAssociation":
        out.update(associationArn=f"arn:aws:eks:{region}:{ACCOUNT_ID}:podidentityassociation/{name}")
    return out


class StackOutputs(dict[str, Any]):
    """What each `pulumi.StackReference` of a program reads offline, by the stack name it is given; `missing` collects
    the names a program referenced that this holds no outputs for (it then read none)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.missing: list[str] = []


class RecordingMocks(mocks.Mocks):
    """Returns inputs plus :func:`default_outputs`; answers the few invokes the program makes."""

    def __init__(self, region: str = "us-east-1", outputs: Optional[OutputsFn] = None,
                 stack_outputs: Optional[dict[str, dict[str, Any]]] = None):
        self.region = region
        self.outputs = outputs
        self.stack_outputs = stack_outputs if stack_outputs is not None else {}
        """A `pulumi.StackReference`'s outputs by the stack name it is given (none: no outputs)."""

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[Optional[str], dict[str, Any]]:
        state = dict(args.inputs)
        if args.typ == STACK_REFERENCE:
            ref = str(args.inputs.get("name") or args.name)
            if ref not in self.stack_outputs and isinstance(self.stack_outputs, StackOutputs) \
                    and ref not in self.stack_outputs.missing:
                self.stack_outputs.missing.append(ref)
            state.update(outputs=dict(self.stack_outputs.get(ref, {})), secretOutputNames=[])
            return args.resource_id or ref, state
        state.update(default_outputs(args.typ, args.name, args.inputs, self.region))
        if self.outputs:
            state.update(self.outputs(args.typ, args.name, args.inputs))
        rid = args.resource_id or (f"{args.name}-id" if args.custom else None)
        return rid, state

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], Optional[list[tuple[str, str]]]]:
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            names = [f"{self.region}{z}" for z in "abc"]
            return {"names": names, "zoneIds": [f"use1-az{i}" for i in (1, 2, 4)], "id": self.region}, None
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT_ID, "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/offline", "userId": "offline"}, None
        if args.token == "aws:eks/getAddonVersion:getAddonVersion":
            # EKS answers with a build tied to the Kubernetes version, so an upgrade shows as a version change.
            k, addon = args.args.get("kubernetesVersion"), args.args.get("addonName")
            return {"addonName": addon, "kubernetesVersion": k, "id": addon, "version": f"v{k}-{addon}-eksbuild.1"}, None
        if args.token == "aws:grafana/getWorkspace:getWorkspace":
            ws = str(args.args.get("workspaceId"))
            return {"workspaceId": ws, "id": ws, "endpoint": f"{ws}.grafana-workspace.{self.region}.amazonaws.com"}, None
        if args.token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com"}, None
        return {}, None


class RecordingMonitor(mocks.MockMonitor):
    """A mock monitor that records every registration with its options, synchronously."""

    def __init__(self, mocks_: RecordingMocks):
        super().__init__(mocks_)
        self.recorded: list[Recorded] = []

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """URNs as the engine builds them: the parent's whole qualified type chain, except the root stack's.

        (The stock mock keeps only the parent's last type and includes the stack's, so its URNs differ from
        the ones `pulumi up` records, and URN stability checks need the real ones.)"""
        return urn_of(parent, type_, name, get_stack(), get_project())

    def _register_child(self, parent_urn: str, typ: str, name: str, state: dict[str, Any]) -> dict[str, Any]:
        """A resource a remote component creates (e.g. the aws.eks.Cluster inside eks.Cluster), as a reference."""
        urn = self.make_urn(parent_urn, typ, name)
        rid = f"{name}-id"
        self.resources[urn] = mocks.MockMonitor.ResourceRegistration(urn, rid, state)
        return {_SIG: _RESOURCE, "urn": urn, "id": rid}

    def RegisterResource(self, request: Any) -> Any:
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == "pulumi:pulumi:Stack":
            return resource_pb2.RegisterResourceResponse(urn=urn)
        if urn in self.resources:
            raise ValueError(f"duplicate resource URN {urn}: two resources share type and name")
        inputs = decode_struct(request.object)
        args = mocks.MockResourceArgs(typ=request.type, name=request.name, inputs=inputs, provider=request.provider,
                                      resource_id=request.importId, custom=request.custom or False)
        rid, state = self.mocks.new_resource(args)
        if request.type == "eks:index:Cluster":
            state["eksCluster"] = self._register_child(urn, "aws:eks/cluster:Cluster", request.name, {
                "name": inputs.get("name", request.name),
                "arn": f"arn:aws:eks:us-east-1:{ACCOUNT_ID}:cluster/{request.name}",
                "version": inputs.get("version"),
                "identities": [{"oidcs": [{"issuer": f"https://oidc.eks.us-east-1.amazonaws.com/id/{request.name.upper()}"}]}],
            })
        aliases = list(request.aliasURNs)
        for a in request.aliases:
            spec = a.spec
            aliases.append(a.urn or "alias:" + ",".join(
                f"{k}={v}" for k, v in (("name", spec.name), ("type", spec.type), ("parent", spec.parentUrn)) if v))
        options = {
            "protect": bool(request.protect),
            "ignore_changes": list(request.ignoreChanges),
            "replace_on_changes": list(request.replaceOnChanges),
            "delete_before_replace": bool(request.deleteBeforeReplace),
            "additional_secret_outputs": list(request.additionalSecretOutputs),
            "version": request.version or None,
        }
        ct = request.customTimeouts
        if ct.create or ct.update or ct.delete:
            options["custom_timeouts"] = {k: v for k, v in (("create", ct.create), ("update", ct.update),
                                                             ("delete", ct.delete)) if v}
        self.recorded.append(Recorded(
            urn=urn, type=request.type, name=request.name, parent=request.parent or None, inputs=inputs,
            outputs=state, custom=bool(request.custom), remote=bool(request.remote),
            provider=request.provider or None, dependencies=list(request.dependencies), aliases=[a for a in aliases if a],
            options=options,
        ))
        self.resources[urn] = mocks.MockMonitor.ResourceRegistration(urn, rid or "", state)
        return resource_pb2.RegisterResourceResponse(urn=urn, id=rid or "", object=_response(state))

    def Invoke(self, request: Any) -> Any:
        args = decode_struct(request.args)
        if request.tok == "pulumi:pulumi:getResource":
            reg = self.resources.get(args["urn"])
            if reg is None:
                raise ValueError(f"unknown resource {args['urn']}")
            ret = {"urn": reg.urn, "id": reg.id, "state": reg.state}
            return resource_pb2.ResourceInvokeResponse(failures=None, **{"return": _struct(ret)})
        ret, _ = self.mocks.call(mocks.MockCallArgs(token=request.tok, args=args, provider=request.provider))
        return resource_pb2.ResourceInvokeResponse(failures=None, **{"return": _struct(ret)})

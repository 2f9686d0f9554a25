"""The typed handle to a cluster that node groups, the autoscaler, add-ons and model APIs take.

Built from our `Cluster` (`ClusterHandle.of(cluster)`) or from an existing cluster's values
(`ClusterHandle.existing(...)`), for teams whose cluster modelstack did not build (Cortex #817).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Optional, Sequence, cast

import pulumi
import pulumi_kubernetes as k8s

if TYPE_CHECKING:
    from modelstack.cluster.control_plane import Cluster


@dataclass(frozen=True)
class ClusterHandle:
    """What other components need from a cluster; every field an Output except the provider."""

    cluster_name: pulumi.Output[str]
    kubernetes_version: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider
    oidc_provider_arn: pulumi.Output[str]
    oidc_provider_url: pulumi.Output[str]
    node_role_arn: pulumi.Output[str]
    node_role_name: pulumi.Output[str]
    vpc_id: pulumi.Output[str]
    private_subnet_ids: pulumi.Output[Sequence[str]]
    public_subnet_ids: pulumi.Output[Sequence[str]]
    cluster_security_group_id: pulumi.Output[str]

    @classmethod
    def of(cls, cluster: "Cluster") -> "ClusterHandle":
        """The handle on our Cluster: every field is the Cluster attribute of the same name."""
        return cls(**{f.name: getattr(cluster, f.name) for f in fields(cls)})

    @classmethod
    def existing(
        cls,
        resource_name: str,
        *,
        cluster_name: pulumi.Input[str],
        kubernetes_version: pulumi.Input[str],
        kubeconfig: pulumi.Input[str],
        oidc_provider_arn: pulumi.Input[str],
        oidc_provider_url: pulumi.Input[str],
        node_role_arn: pulumi.Input[str],
        node_role_name: pulumi.Input[str],
        vpc_id: pulumi.Input[str],
        private_subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]],
        public_subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]] = (),
        cluster_security_group_id: pulumi.Input[str] = "",
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> "ClusterHandle":
        """A handle on a cluster built elsewhere; registers only a Kubernetes provider for its kubeconfig."""
        provider = k8s.Provider(resource_name, kubeconfig=kubeconfig, enable_config_map_mutable=True, opts=opts)
        o = pulumi.Output.from_input
        return cls(
            cluster_name=o(cluster_name),
            kubernetes_version=o(kubernetes_version),
            kubeconfig=o(kubeconfig),
            provider=provider,
            oidc_provider_arn=o(oidc_provider_arn),
            oidc_provider_url=o(oidc_provider_url),
            node_role_arn=o(node_role_arn),
            node_role_name=o(node_role_name),
            vpc_id=o(vpc_id),
            private_subnet_ids=string_list(list(private_subnet_ids) if isinstance(private_subnet_ids, (list, tuple))
                                           else private_subnet_ids),
            public_subnet_ids=string_list(list(public_subnet_ids) if isinstance(public_subnet_ids, (list, tuple))
                                          else public_subnet_ids),
            cluster_security_group_id=o(cluster_security_group_id),
        )


    def options(self, opts: Optional[pulumi.ResourceOptions] = None, **kwargs: Any) -> pulumi.ResourceOptions:
        """Resource options that put a component on this cluster: its Kubernetes provider, merged into `opts` and
        into any `pulumi.ResourceOptions` keyword (`depends_on=`, `protect=`, `aliases=`, ...).

        `ModelAPI("fraud-scorer", args, handle.options(depends_on=[addons]))` is how a Python stack hands a model
        our cluster."""
        if opts is not None and not isinstance(opts, pulumi.ResourceOptions):
            raise TypeError(f"ClusterHandle.options(opts): a pulumi.ResourceOptions, not {type(opts).__name__}; "
                            "options such as depends_on go as keywords: handle.options(depends_on=[...])")
        if "providers" in kwargs or "provider" in kwargs:
            raise TypeError("ClusterHandle.options() sets the Kubernetes provider itself (the handle's); pass any "
                            "other provider in opts")
        extra = pulumi.ResourceOptions(**kwargs) if kwargs else None
        return pulumi.ResourceOptions.merge(pulumi.ResourceOptions.merge(opts, extra),
                                            pulumi.ResourceOptions(providers={"kubernetes": self.provider}))


def string_list(value: pulumi.Input[Sequence[pulumi.Input[str]]]) -> pulumi.Output[Sequence[str]]:
    """An input list of input strings as one output of the strings: `Output.from_input` resolves the nested inputs,
    which its signature cannot say."""
    return cast("pulumi.Output[Sequence[str]]", pulumi.Output.from_input(value))


def inherited_depends_on(opts: Optional[pulumi.ResourceOptions]) -> list[Any]:
    """The component's own `depends_on`, to hand to children that talk to the cluster (Pulumi does not pass a
    component's dependencies on to its children)."""
    deps = opts.depends_on if opts else None
    if deps is None:
        return []
    if isinstance(deps, (list, tuple)):
        return list(deps)
    return [deps]

"""Every Helm release modelstack installs goes through :func:`release`, so one rule holds for all of them: the chart
comes from its pin (render/charts.py; an `oci://` repository is a chart reference, any other a repository URL), and
Helm waits HELM_RELEASE_TIMEOUT_SECONDS for the release's pods instead of the provider's 300 s default
(render/timeouts.py: a release on the system pool may wait for a new system node).
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s

from modelstack.render import timeouts
from modelstack.render.charts import Chart


def release(resource_name: str, *, chart: str, pin: Chart, release_name: str, values: pulumi.Input[dict[str, Any]],
            provider: pulumi.ProviderResource, parent: pulumi.Resource, version: Optional[str] = None,
            depends_on: Sequence[pulumi.Resource] = (), create_namespace: Optional[bool] = None) -> k8s.helm.v3.Release:
    """A Helm release of `chart` at `version` (default: the pin's) in the pin's namespace, parented to `parent`."""
    kwargs: dict[str, Any] = {}
    if pin.repo.startswith("oci://"):
        kwargs["chart"] = f"{pin.repo}/{chart}"  # an OCI chart: the reference is the chart, there is no index
    else:
        kwargs.update(chart=chart, repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=pin.repo))
    if create_namespace is not None:
        kwargs["create_namespace"] = create_namespace
    return k8s.helm.v3.Release(
        resource_name, name=release_name, version=version or pin.version, namespace=pin.namespace, values=values,
        timeout=timeouts.HELM_RELEASE_TIMEOUT_SECONDS, **kwargs,
        opts=pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=list(depends_on)))

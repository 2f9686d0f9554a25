"""Time budgets on the request and deploy paths, so that no third-party default cuts a slow but healthy path.

The slowest path we plan: a request reaches a model scaled to zero whose node group is at size 0. It waits for a
node (EC2 launch, boot, join, device plugin), the image pull, and the container's start-up probe; then for the
model's answer. Every timeout on that path is derived here from one budget, and tests hold them to it:

- the KEDA HTTP add-on interceptor's per-route `readiness` (default 0 = wait forever on 0.15.0, 20 s on 0.10.0)
  and `responseHeader` (300 s on 0.15.0, 500 ms on 0.10.0) timeouts;
- the ALB idle timeout (60 s by default): nothing flows while the interceptor holds a request, so it must cover
  the wait for a replica plus the wait for response headers;
- the Kubernetes provider's await on a Deployment (10 min by default), which a first rollout onto a GPU group at
  size 0 can exceed, failing `pulumi up` although the rollout goes on.

Node and image-pull figures are planning assumptions (AWS publishes no launch-time guarantee); a model can set
its own `cold_start_seconds`. Sources of the defaults: components/data/UPSTREAM.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Optional

#: Seconds from a scale-up decision to a Ready node, by node kind (launch, boot, kubelet join, device plugin).
NODE_READY_SECONDS = {"none": 180, "gpu": 420, "inferentia": 420}
#: Seconds to pull a model image onto a fresh node: CPU images are small; GPU and Neuron images carry CUDA or
#: the Neuron runtime (several GB).
IMAGE_PULL_SECONDS = {"none": 120, "gpu": 420, "inferentia": 420}
#: How long a model may take to send response headers (interceptor `responseHeader`). Default 10 min: long
#: non-streamed generations; the add-on's own default is 300 s.
DEFAULT_RESPONSE_SECONDS = 600
#: pulumi-kubernetes waits this long for a Deployment to become ready unless told otherwise.
PROVIDER_AWAIT_DEFAULT_SECONDS = 600
#: The ALB's default idle timeout, and the range AWS accepts for `idle_timeout.timeout_seconds`.
ALB_IDLE_DEFAULT_SECONDS = 60
ALB_IDLE_RANGE = (1, 4000)
#: The idle timeout modelstack gives a shared ALB unless a route needs longer: one value that ModelAPIs and
#: TrafficSplitters built separately all pick by default, so the Ingresses of a group agree (the attribute belongs
#: to the one load balancer). 30 min covers a GPU cold start with a 5-minute start-up and a 10-minute answer.
ALB_IDLE_GROUP_SECONDS = 1800
#: Helm waits this long for a release's pods (the provider's default is 300 s). A release on the system pool may
#: wait for cluster-autoscaler to add a system node: NODE_READY_SECONDS["none"] plus scheduling and pulls.
HELM_RELEASE_TIMEOUT_SECONDS = 900
#: Interceptor-wide defaults (chart values), for routes that set none of their own.
INTERCEPTOR_READINESS_SECONDS = 900
INTERCEPTOR_RESPONSE_HEADER_SECONDS = DEFAULT_RESPONSE_SECONDS
#: After SIGTERM the interceptor keeps serving this long (its /readyz answers 503) before it closes its listener, so
#: the load balancer controller and kube-proxy stop sending it requests first: as long as a model pod's default
#: pre-stop sleep. The add-on's own default is 5 s.
INTERCEPTOR_SHUTDOWN_DELAY_SECONDS = 15
#: Seconds between the end of the drain and SIGKILL, for the process to exit.
EXIT_MARGIN_SECONDS = 15
#: The range AWS accepts for a target group's `deregistration_delay.timeout_seconds` (default 300 s), after which the
#: ALB closes the connections still open to a deregistered target.
ALB_DEREGISTRATION_RANGE = (0, 3600)
#: cluster-autoscaler's default `--max-graceful-termination-sec`: on scale-down it kills pods still terminating
#: after this long.
AUTOSCALER_GRACEFUL_TERMINATION_DEFAULT_SECONDS = 600


@dataclass(frozen=True)
class ColdStart:
    """Worst planned seconds from "no replica" to "a replica is Ready"."""

    node_seconds: int
    image_pull_seconds: int
    startup_seconds: int

    @property
    def total(self) -> int:
        return self.node_seconds + self.image_pull_seconds + self.startup_seconds


def probe_budget(initial_delay: int, period: int, failure_threshold: int) -> int:
    """The longest a probe can keep failing before Kubernetes acts: initial delay + period x failure threshold."""
    return initial_delay + period * failure_threshold


def cold_start(accelerator: str, startup_seconds: int, override: Optional[int] = None) -> ColdStart:
    """The cold-start budget of a model on `accelerator` ("none", "gpu", "inferentia") whose container needs up to
    `startup_seconds` to pass its probes. `override` replaces the whole budget (all of it counted as start-up)."""
    if override is not None:
        return ColdStart(0, 0, int(override))
    return ColdStart(NODE_READY_SECONDS[accelerator], IMAGE_PULL_SECONDS[accelerator], int(startup_seconds))


def deployment_await_seconds(cold: ColdStart) -> int:
    """How long `pulumi up` waits for a Deployment: a cold start, plus a minute for the rollout's last steps, and
    never less than the provider's own default."""
    return max(PROVIDER_AWAIT_DEFAULT_SECONDS, cold.total + 60)


def alb_idle_timeout(routes: Iterable[tuple[int, int]]) -> int:
    """The shared ALB's idle timeout for routes given as (readiness seconds, response seconds): the longest
    silent wait any route can have, never below ALB_IDLE_GROUP_SECONDS. Raises ValueError past AWS's maximum."""
    need = max((r + s for r, s in routes), default=ALB_IDLE_DEFAULT_SECONDS)
    if need > ALB_IDLE_RANGE[1]:
        raise ValueError(f"a route can wait {need} s for a replica and its response, longer than the load balancer's "
                         f"maximum idle timeout ({ALB_IDLE_RANGE[1]} s): shorten the start-up probe, cold_start or "
                         f"response_timeout")
    return max(need, ALB_IDLE_GROUP_SECONDS)


def duration(seconds: int) -> str:
    """Go duration text for a whole number of seconds ("840s"), as the add-on's CRD and chart take."""
    return f"{int(math.ceil(seconds))}s"


@dataclass(frozen=True)
class Drain:
    """How the interceptor stops: keep serving `shutdown_delay_seconds`, then wait up to `drain_seconds` for the
    requests in flight, and get SIGKILL after `grace_seconds` (the pod's terminationGracePeriodSeconds)."""

    shutdown_delay_seconds: int
    drain_seconds: int

    @property
    def grace_seconds(self) -> int:
        return self.shutdown_delay_seconds + self.drain_seconds + EXIT_MARGIN_SECONDS


def interceptor_drain(routes: Iterable[tuple[int, int]]) -> Drain:
    """The interceptor's drain for routes given as (readiness seconds, response seconds): a request can be held for a
    replica and then wait for its response, so the drain covers the longest readiness + response of any route, and of
    a route that sets no timeouts of its own (the interceptor-wide ones). The add-on's defaults (30 s drain, 45 s
    grace) would cut a request still waiting for a cold GPU model or a long answer when an interceptor pod stops
    (scale-in, rollout, node drain)."""
    longest = max([INTERCEPTOR_READINESS_SECONDS + INTERCEPTOR_RESPONSE_HEADER_SECONDS,
                   *(r + s for r, s in routes)])
    return Drain(INTERCEPTOR_SHUTDOWN_DELAY_SECONDS, longest)


def deregistration_delay(readiness_seconds: int, response_seconds: int) -> int:
    """The interceptor target group's deregistration delay for a route: the ALB keeps a deregistered interceptor's
    connections open this long (default 300 s), so as long as the route's longest request, at most AWS's 3600 s."""
    return min(readiness_seconds + response_seconds, ALB_DEREGISTRATION_RANGE[1])

"""What a stack's observability is, from its validated config and capacity plan: alert rules, price rules,
Alertmanager routing, dashboards (pure; the stack program wires them, `modelstack plan` lists them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from modelstack.capacity import pricing
from modelstack.config.schema import Platform, duration_seconds
from modelstack.planner.capacity import CapacityPlan
from modelstack.planner.karpenter import plan_karpenter
from modelstack.render import alerts, dashboards, observability


@dataclass(frozen=True)
class ObservabilityPlan:
    alerting: dict[str, Any]
    """alerting_rules.yml."""
    recording: dict[str, Any]
    """recording_rules.yml (the price table as series)."""
    routing: alerts.AlertRouting
    dashboards: dict[str, dict[str, Any]]
    """Dashboard JSON objects by file name; empty without Grafana."""
    grafana: bool

    @property
    def sns_topic_arns(self) -> list[str]:
        return sorted({r.topic_arn for r in self.routing.receivers if r.kind == "sns" and r.topic_arn})

    def prometheus_values(self, system_pool: str) -> dict[str, Any]:
        return observability.prometheus_values(system_pool, self.alerting, self.recording, self.routing)

    def dashboard_files(self) -> dict[str, str]:
        return {n: dashboards.to_json(d) for n, d in self.dashboards.items()}


def prices(p: Platform, capacity: CapacityPlan) -> list[alerts.Price]:
    """Every instance type the stack may run, on demand and (where the table has it) spot."""
    # The plan's own book: the region's price file when it has one.
    book = capacity.cost_inputs.prices or pricing.price_book(p.region, fallback_to_us_east_1=True)
    cat = pricing.catalog()
    types = {t for g in capacity.groups for t in g.instance_types}
    if p.config.cluster.provisioner == "karpenter":
        types |= {t for s in plan_karpenter(p, capacity).node_pools for t in s.instance_types}
    out = []
    for t in sorted(types):
        it = cat[t]
        for capacity_type, usd in (("ON_DEMAND", book.on_demand(it)), ("SPOT", book.spot(it))):
            if usd is not None:
                out.append(alerts.Price(t, capacity_type, usd))
    return out


def plan_observability(p: Platform, capacity: CapacityPlan, cold_starts: Mapping[str, int]) -> ObservabilityPlan:
    """`cold_starts`: each model's cold-start budget in seconds, as its ModelAPI resolved it (model_api.resolve)."""
    c = p.config
    obs = c.cluster.observability
    models = [alerts.ModelAlerting(name, m.namespace, duration_seconds(m.response_timeout),
                                   cold_starts[name], m.autoscaling.scale_to_zero)
              for name, m in c.models.items()]
    routing = alerts.AlertRouting(tuple(
        alerts.Receiver(name, r.kind, tuple(r.severities), r.topic_arn, r.channel, r.secret, r.key)
        for name, r in obs.alerts.receivers.items()), region=p.region)
    boards: dict[str, dict[str, Any]] = {}
    if obs.grafana_enabled:
        boards = dashboards.dashboards(c.cluster.name, c.environment, [
            dashboards.ModelDashboard(name, m.namespace, gpu=capacity.placements[name].accelerator == "gpu",
                                      max_concurrency=m.max_concurrency,
                                      response_seconds=duration_seconds(m.response_timeout))
            for name, m in c.models.items()], karpenter=c.cluster.provisioner == "karpenter")
    return ObservabilityPlan(
        alerting=alerts.alerting_rules(models, alerts.Thresholds(error_rate=obs.alerts.error_rate)),
        recording=alerts.recording_rules(prices(p, capacity)),
        routing=routing, dashboards=boards, grafana=obs.grafana_enabled)

"""The time budgets on the request and deploy paths cover the slowest path we plan (render/timeouts.py)."""

from __future__ import annotations

import pytest

from modelstack.render import timeouts


def test_cold_start_adds_node_pull_and_start_up():
    c = timeouts.cold_start("gpu", 600)
    assert (c.node_seconds, c.image_pull_seconds, c.startup_seconds, c.total) == (420, 420, 600, 1440)
    assert timeouts.cold_start("none", 30).total == 180 + 120 + 30
    assert timeouts.cold_start("gpu", 600, override=90).total == 90


def test_probe_budget():
    assert timeouts.probe_budget(10, 10, 60) == 610


@pytest.mark.parametrize("total, expected", [(100, 600), (540, 600), (1440, 1500)])
def test_pulumi_waits_past_a_cold_start_and_never_below_its_default(total, expected):
    assert timeouts.deployment_await_seconds(timeouts.ColdStart(0, 0, total)) == expected


def test_alb_idle_timeout_is_the_longest_silent_wait_or_the_group_default():
    assert timeouts.alb_idle_timeout([(360, 600), (1440, 660)]) == 2100
    # below that, one group-wide default, so separately built components agree without being told
    assert timeouts.alb_idle_timeout([(10, 20)]) == timeouts.alb_idle_timeout([]) == 1800


def test_alb_idle_timeout_past_the_aws_maximum_is_refused():
    with pytest.raises(ValueError, match=r"longer than the load balancer's maximum idle timeout \(4000 s\)"):
        timeouts.alb_idle_timeout([(3500, 600)])


def test_helm_releases_outwait_a_system_node_launch():
    assert timeouts.HELM_RELEASE_TIMEOUT_SECONDS > timeouts.NODE_READY_SECONDS["none"] + timeouts.IMAGE_PULL_SECONDS["none"]
    assert timeouts.HELM_RELEASE_TIMEOUT_SECONDS > 300  # the provider's default


def test_interceptor_wide_readiness_covers_a_gpu_cold_start_with_the_default_probe():
    assert timeouts.INTERCEPTOR_READINESS_SECONDS >= timeouts.cold_start("gpu", 15).total


def test_duration_text():
    assert timeouts.duration(840) == "840s"


def test_the_interceptor_drains_the_longest_route_and_never_less_than_its_own_timeouts():
    d = timeouts.interceptor_drain([(1440, 660), (900, 660)])
    assert (d.shutdown_delay_seconds, d.drain_seconds) == (timeouts.INTERCEPTOR_SHUTDOWN_DELAY_SECONDS, 2100)
    assert d.grace_seconds == d.shutdown_delay_seconds + d.drain_seconds + timeouts.EXIT_MARGIN_SECONDS
    # routes that set no timeouts get the interceptor-wide ones: the drain covers them too
    short = timeouts.interceptor_drain([(10, 20)])
    assert short.drain_seconds == timeouts.INTERCEPTOR_READINESS_SECONDS + timeouts.INTERCEPTOR_RESPONSE_HEADER_SECONDS


def test_deregistration_delay_is_the_routes_longest_request_within_aws_range():
    assert timeouts.deregistration_delay(1440, 660) == 2100
    assert timeouts.deregistration_delay(3000, 900) == timeouts.ALB_DEREGISTRATION_RANGE[1] == 3600

"""Model API variants that exercise every rendered kind, shared by the schema and CRD tests."""

from __future__ import annotations

from modelstack.serving import model_api, traffic_splitter

DIGEST = "@sha256:" + "ab" * 32
CERT = "arn:aws:acm:us-east-1:123456789012:certificate/0f0e0d0c-1111-2222-3333-444455556666"

MODELS = {
    "cpu": {"image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/sentiment" + DIGEST, "compute": {"cpu": "500m", "memory": "1Gi"},
            "autoscaling": {"signal": "cpu", "target_utilization": 70}, "liveness_probe": {"http_get": {"path": "/healthz"}},
            "ingress": {"group_name": "c1-models", "path": "/cpu"}, "team": "nlp", "environment": "dev"},
    "gpu-spot": {"image": "ghcr.io/acme/llm:1.2.0", "compute": {"cpu": "3", "memory": "12Gi", "gpu": 1}, "shm": "2Gi",
                 "placement": {"node_pool": "gpu-a10g", "accelerator": "gpu", "spot": True, "on_demand_base": 1,
                               "strict_zone_spread": True},
                 "autoscaling": {"min_replicas": 2, "max_replicas": 10, "target_in_flight": 4},
                 "update_strategy": {"max_surge": "1", "max_unavailable": "0", "min_ready_seconds": 10},
                 "readiness_probe": {"http_get": {"path": "/ready"}, "period_seconds": 5},
                 "startup_probe": {"http_get": {"path": "/ready"}, "failure_threshold": 60},
                 "ingress": {"group_name": "c1-models", "certificate_arn": CERT, "scheme": "internet-facing",
                             "inbound_cidrs": ["203.0.113.0/24"]},
                 "network_policy_cidrs": ["10.0.0.0/16"]},
    "zero": {"image": "ghcr.io/acme/rare:2", "autoscaling": {"min_replicas": 0, "scale_to_zero": True, "max_replicas": 3},
             "pre_stop": {"exec": {"command": ["/bin/drain"]}},
             "sidecars": [{"name": "tfs", "image": "ghcr.io/acme/tfs:2.16.1", "port": 8500,
                           "compute": {"cpu": "1", "memory": "2Gi"}, "readiness_probe": {"tcp_socket": {}},
                           "liveness_probe": {"http_get": {"path": "/v1/models/rare"}}}]},
    "prom": {"image": "ghcr.io/acme/ranker:3", "prometheus_address": "http://prometheus.monitoring:9090",
             "autoscaling": {"signal": "prometheus", "prometheus_query": "sum(rate(http_requests_total{app=\"ranker\"}[1m]))",
                             "prometheus_threshold": 50},
             "aws": {"cluster_name": "c1", "statements": [{"actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::w/r/*"]}]}},
    "gpu-util": {"image": "ghcr.io/acme/vision:1", "compute": {"gpu": 1, "memory": "8Gi"},
                 "prometheus_address": "http://prometheus.monitoring:9090",
                 "autoscaling": {"signal": "gpu", "target_utilization": 80}},
    # an LLM whose weights are cached once per node (hostPath) and fetched with a Hugging Face token Secret
    "llm-cache": {"image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/docker-hub/vllm/vllm-openai:v0.33.0",
                  "compute": {"cpu": "4", "memory": "32Gi", "gpu": 1}, "engine_metrics": True,
                  "prometheus_address": "http://prometheus.monitoring:9090",
                  "autoscaling": {"signal": "llm", "target_in_flight": 16},
                  "node_cache": {"host_path": "/mnt/k8s-disks/0/modelstack-weights", "sub_path": "models.llm-cache.0123",
                                 "mount_path": "/models/llm-cache", "init_mount_path": "/node-cache"},
                  "init_containers": [{"name": "weights", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/docker-hub/vllm/vllm-openai:v0.33.0",
                                       "command": ["python3", "-c", "pass"], "compute": {"cpu": "1", "memory": "1Gi"},
                                       "secret_env": {"HF_TOKEN": {"secret": "hf-token", "key": "token"}}}],
                  "secret_env": {"HF_TOKEN": {"secret": "hf-token", "key": "token"}}},
}


def rendered() -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for name, args in MODELS.items():
        args = {k: v for k, v in args.items() if v is not None}
        out[name] = list(model_api.resolve(name, args).objects.values())
    ing, _, _ = traffic_splitter.render("canary", {"backends": [{"service": "cpu", "weight": 90}, {"service": "prom", "weight": 10}],
                                                   "ingress": {"group_name": "c1-models"}})
    out["split"] = [ing]
    return out

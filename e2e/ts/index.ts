// One ModelAPI from TypeScript, on the e2e API server: the component runs in modelstack's Python provider host.
import * as pulumi from "@pulumi/pulumi";
import * as modelstack from "@pulumi/modelstack";

const config = new pulumi.Config();

const api = new modelstack.ModelAPI("ts-sentiment", {
    image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/sentiment:1.4.2",
    kubeconfig: config.requireSecret("kubeconfig"),
    namespace: "models",
    team: "ml-platform",
    environment: "prod",
    compute: { cpu: "500m", memory: "1Gi" },
    autoscaling: { min_replicas: 2, max_replicas: 4, signal: "cpu", target_utilization: 60 },
    update_strategy: { max_surge: "1", max_unavailable: "0" },
    placement: { node_pool: "cpu", spot: false, strict_zone_spread: true },
    readiness_probe: { http_get: { path: "/healthz" } },
});

export const endpoint = api.endpoint;
export const deployment = api.deployment_name;

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
    autoscaling: { minReplicas: 2, maxReplicas: 4, signal: "cpu", targetUtilization: 60 },
    updateStrategy: { maxSurge: "1", maxUnavailable: "0" },
    placement: { nodePool: "cpu", spot: false, strictZoneSpread: true },
    readinessProbe: { httpGet: { path: "/healthz" } },
});

export const endpoint = api.endpoint;
export const deployment = api.deploymentName;

"""examples/: another team's stack composing a ModelAPI into a cluster modelstack did not build, planned offline."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import yaml

from modelstack.render import labels
from modelstack.plan.mocks import SECRET_MASK

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "existing-cluster"
KUBECONFIG = json.dumps({"apiVersion": "v1", "kind": "Config", "clusters": [{"name": "payments"}]})


def test_existing_cluster_example_plans_offline(run):
    project = yaml.safe_load((EXAMPLE / "Pulumi.yaml").read_text())["name"]
    config = yaml.safe_load((EXAMPLE / "Pulumi.dev.yaml").read_text())["config"]
    config[f"{project}:kubeconfig"] = KUBECONFIG  # the stack file holds a ciphertext only the Pulumi CLI can open
    result = run(lambda: runpy.run_path(str(EXAMPLE / "__main__.py")), "dev", config, project=project)

    types = [r.type for r in result.resources]
    assert not [t for t in types if t.startswith(("aws:", "eks:"))]  # nothing of the cluster is (re)built
    api = result.named("fraud-scorer", "modelstack:index:ModelAPI")
    children = result.children(api)
    provider = next(r for r in children if r.type == "pulumi:providers:kubernetes")
    assert provider.inputs["kubeconfig"] in (KUBECONFIG, SECRET_MASK)
    kinds = {r.inputs.get("kind") for r in children}
    assert {"Deployment", "Service", "ScaledObject", "PodDisruptionBudget", "Ingress", "ServiceAccount"} <= kinds
    deployment = next(r for r in children if r.inputs.get("kind") == "Deployment")
    assert deployment.provider.startswith(provider.urn)
    terms = deployment.inputs["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]["matchExpressions"]
    assert {"key": labels.EKS_NODEGROUP_LABEL, "operator": "In", "values": ["payments-cpu-a", "payments-cpu-b"]} in terms
    assert deployment.inputs["metadata"]["labels"][labels.TEAM_LABEL] == "payments"
    assert result.exports["endpoint"].endswith("/fraud-scorer")


def test_example_is_about_ten_lines_of_code():
    code = [line for line in (EXAMPLE / "__main__.py").read_text().splitlines() if line.strip() and not line.startswith('"""')]
    assert len(code) <= 14

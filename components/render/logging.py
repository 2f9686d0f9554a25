"""Model logs to CloudWatch Logs: the aws-for-fluent-bit chart's values and its IAM policy (pure).

Facts from aws/eks-charts `stable/aws-for-fluent-bit/values.yaml` at chart 0.2.0 (commit 2942cdce, see
data/UPSTREAM.md): the `cloudWatchLogs` output (Fluent Bit's C plugin) with `logGroupName`, `logStreamPrefix`,
`logStreamTemplate`, `autoCreateGroup`, `region`; the `kubernetes` filter merges JSON log lines (`mergeLog: On`,
under `mergeLogKey: data`); `input.path` is the tail input's path; `serviceAccount.annotations`.
"""

from __future__ import annotations

from typing import Any

from modelstack.render import iam, labels

SERVICE_ACCOUNT = "aws-for-fluent-bit"
STREAM_TEMPLATE = ("$kubernetes['labels']['" + labels.MODEL_LABEL + "']"
                   ".$kubernetes['pod_name'].$kubernetes['container_name']")
"""One stream per model container: `<model>.<pod>.<container>`, so `--log-stream-name-prefix <model>.` finds a
model's logs (server, proxy and sidecars). Lines without the model label fall back to `logStreamPrefix` + tag."""
STREAM_PREFIX = "other-"


def default_log_group(cluster_name: str) -> str:
    return f"/aws/eks/{cluster_name}/models"


def container_log_paths(namespaces: list[str]) -> str:
    """The tail input's paths: only the model namespaces' container logs (kubelet names them
    <pod>_<namespace>_<container>-<id>.log), not every system pod's."""
    return ",".join(f"/var/log/containers/*_{ns}_*.log" for ns in sorted(set(namespaces)))


def fluent_bit_values(region: str, log_group: str, namespaces: list[str], irsa_role_arn: str | None = None) -> dict[str, Any]:
    """aws-for-fluent-bit values: model containers' logs, JSON lines parsed, one stream per model container.
    `irsa_role_arn` annotates the ServiceAccount for IRSA; None with EKS Pod Identity (the association binds it)."""
    return {
        "input": {"path": container_log_paths(namespaces)},
        "filter": {"mergeLog": "On", "mergeLogKey": "data", "keepLog": "Off"},
        "cloudWatch": {"enabled": False},
        "cloudWatchLogs": {
            "enabled": True, "region": region, "logGroupName": log_group,
            "logStreamTemplate": STREAM_TEMPLATE, "logStreamPrefix": STREAM_PREFIX,
            # modelstack creates the group with its retention; the plugin must not create one without it.
            "autoCreateGroup": False,
        },
        "serviceAccount": {"create": True, "name": SERVICE_ACCOUNT,
                           "annotations": {"eks.amazonaws.com/role-arn": irsa_role_arn} if irsa_role_arn else {}},
        # On every node that runs models: GPU, Neuron and spot nodes carry taints.
        "tolerations": [{"operator": "Exists"}],
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "250Mi"}},
    }


def fluent_bit_policy(log_group_arn: str) -> dict[str, Any]:
    """Write to the one log group: streams and events only (the group itself is modelstack's)."""
    return {
        "Version": iam.POLICY_VERSION,
        "Statement": [{
            "Sid": "WriteModelLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            "Resource": [log_group_arn, f"{log_group_arn}:log-stream:*"],
        }],
    }

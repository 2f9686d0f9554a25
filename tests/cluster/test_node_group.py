"""NodeGroup: launch template, managed node group and scale-from-zero ASG tags; analyzer-compatible args."""
import re

import pytest
from pulumi.provider.experimental.analyzer import Analyzer

from modelstack.cluster.node_group import NodeGroup

from cluster_fixtures import addon_versions, outputs  # noqa: F401

BASE = {"cluster_name": "models-prod", "node_role_arn": "arn:aws:iam::123456789012:role/n", "subnet_ids": ["subnet-a", "subnet-b"]}


def _run(run, name, extra):
    return run(lambda: NodeGroup(name, {**BASE, **extra}), outputs=outputs)


def test_spot_group_inventory_and_inputs(run):
    r = _run(run, "cpu", {"instance_types": ["m6i.xlarge", "m6a.xlarge", "m7i.xlarge"], "capacity_type": "SPOT",
                          "kubernetes_version": "1.33", "node_pool": "cpu", "tags": {"team": "ml"}})
    comp = r.named("cpu", "modelstack:index:NodeGroup")
    assert sorted((x.type, x.name) for x in r.children(comp)) == sorted([
        ("aws:ec2/launchTemplate:LaunchTemplate", "cpu-lt"),
        ("aws:eks/nodeGroup:NodeGroup", "cpu-ng"),
        ("aws:autoscaling/tag:Tag", "cpu-asg-label-eks-amazonaws-com-capacitytype"),
        ("aws:autoscaling/tag:Tag", "cpu-asg-label-modelstack-io-node-group"),
        ("aws:autoscaling/tag:Tag", "cpu-asg-label-modelstack-io-node-pool"),
        ("aws:autoscaling/tag:Tag", "cpu-asg-resources-ephemeral-storage"),
    ])
    ng = r.named("cpu-ng", "aws:eks/nodeGroup:NodeGroup")
    i = ng.inputs
    assert i["capacityType"] == "SPOT" and i["amiType"] == "AL2023_x86_64_STANDARD"
    assert i["instanceTypes"] == ["m6i.xlarge", "m6a.xlarge", "m7i.xlarge"]
    assert re.fullmatch(r"cpu-[0-9a-f]{7}", i["nodeGroupName"]) and i["version"] == "1.33"
    assert i["scalingConfig"] == {"minSize": 0, "maxSize": 5, "desiredSize": 0}
    assert i["updateConfig"] == {"maxUnavailablePercentage": 33}
    assert i["launchTemplate"] == {"id": "cpu-lt-id", "version": "1"}
    assert i["labels"] == {"modelstack.io/node-group": "cpu", "modelstack.io/node-pool": "cpu"}
    assert "taints" not in i or i["taints"] == []
    assert ng.options["ignore_changes"] == ["scalingConfig.desiredSize"]
    tag = {t.inputs["tag"]["key"]: t.inputs for t in r.of_type("aws:autoscaling/tag:Tag")}
    cap = tag["k8s.io/cluster-autoscaler/node-template/label/eks.amazonaws.com/capacityType"]
    assert re.fullmatch(r"eks-cpu-[0-9a-f]{7}-asg", cap["autoscalingGroupName"]) and cap["tag"]["value"] == "SPOT"
    assert cap["tag"]["propagateAtLaunch"] is False


def test_launch_template_imdsv2_encrypted_gp3_cost_tags(run):
    r = _run(run, "cpu", {"instance_types": ["m6i.xlarge"], "root_volume_size_gib": 200, "root_volume_iops": 6000,
                          "root_volume_throughput": 250, "tags": {"team": "ml"}})
    lt = r.named("cpu-lt", "aws:ec2/launchTemplate:LaunchTemplate").inputs
    assert lt["metadataOptions"] == {"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 1,
                                     "instanceMetadataTags": "disabled"}
    assert lt["blockDeviceMappings"] == [{"deviceName": "/dev/xvda", "ebs": {
        "volumeSize": 200, "volumeType": "gp3", "iops": 6000, "throughput": 250, "encrypted": "true",
        "deleteOnTermination": "true"}}]
    assert {s["resourceType"] for s in lt["tagSpecifications"]} == {"instance", "volume", "network-interface"}
    assert all(s["tags"]["team"] == "ml" for s in lt["tagSpecifications"])


def test_gpu_group_ami_taint_label_and_gpu_resource_tag(run):
    r = _run(run, "gpu", {"instance_types": ["g5.xlarge"], "kind": "gpu", "accelerator_count": 1})
    i = r.named("gpu-ng", "aws:eks/nodeGroup:NodeGroup").inputs
    assert i["amiType"] == "AL2023_x86_64_NVIDIA"
    assert i["taints"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}]
    assert i["labels"]["nvidia.com/gpu"] == "true" and i["labels"]["nvidia.com/gpu.present"] == "true"
    keys = {t.inputs["tag"]["key"]: t.inputs["tag"]["value"] for t in r.of_type("aws:autoscaling/tag:Tag")}
    assert keys["k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu"] == "1"
    assert keys["k8s.io/cluster-autoscaler/node-template/taint/nvidia.com/gpu"] == "true:NoSchedule"


def test_inferentia_and_system_groups(run):
    r = _run(run, "inf", {"instance_types": ["inf2.xlarge"], "kind": "inferentia", "accelerator_count": 1})
    i = r.named("inf-ng", "aws:eks/nodeGroup:NodeGroup").inputs
    assert i["amiType"] == "AL2023_x86_64_NEURON"
    assert i["taints"] == [{"key": "aws.amazon.com/neuron", "value": "true", "effect": "NO_SCHEDULE"}]
    r = _run(run, "system", {"instance_types": ["m6i.large"], "kind": "system", "min_size": 2})
    i = r.named("system-ng", "aws:eks/nodeGroup:NodeGroup").inputs
    assert i["taints"] == [{"key": "modelstack.io/system", "value": "true", "effect": "NO_SCHEDULE"}]
    assert i["scalingConfig"]["desiredSize"] == 2


def test_on_demand_fallback_shares_the_pool(run):
    r = _run(run, "cpu-on-demand", {"instance_types": ["m6i.xlarge"], "node_pool": "cpu", "priority": 60})
    i = r.named("cpu-on-demand-ng", "aws:eks/nodeGroup:NodeGroup").inputs
    assert i["labels"]["modelstack.io/node-pool"] == "cpu" and i["capacityType"] == "ON_DEMAND"


@pytest.mark.parametrize("extra,msg", [
    ({"instance_types": []}, "must not be empty"),
    ({"instance_types": ["m6i.large"], "min_size": 3, "max_size": 2}, "min_size <= max_size"),
    ({"instance_types": ["m6i.large"], "priority": 0}, "priority must be 1-100"),
    ({"instance_types": ["m6i.large"], "kind": "tpu"}, "kind must be one of"),
])
def test_bad_args(run, extra, msg):
    with pytest.raises(Exception, match=msg):
        _run(run, "bad", extra)


def test_args_pass_the_component_provider_analyzer():
    result = Analyzer("modelstack").analyze([NodeGroup])
    c = result["component_definitions"]["NodeGroup"]
    assert {"clusterName", "nodeRoleArn", "subnetIds", "instanceTypes", "capacityType", "nodePool", "priority"} <= set(c.inputs)
    assert {"nodeGroupName", "asgName", "nodePool"} <= set(c.outputs)


def test_instance_store_raid0_goes_into_the_launch_templates_user_data(run):
    import base64

    from modelstack.render import node_templates
    r = _run(run, "llm", {"instance_types": ["g6e.xlarge"], "kind": "gpu", "accelerator_count": 1,
                          "instance_store_policy": "RAID0"})
    lt = r.named("llm-lt", "aws:ec2/launchTemplate:LaunchTemplate").inputs
    assert base64.b64decode(lt["userData"]).decode() == node_templates.instance_store_user_data("RAID0")
    cached = _run(run, "llm", {"instance_types": ["g6e.xlarge"], "kind": "gpu", "accelerator_count": 1,
                               "instance_store_policy": "RAID0", "weights_cache": True})
    lt = cached.named("llm-lt", "aws:ec2/launchTemplate:LaunchTemplate").inputs
    assert base64.b64decode(lt["userData"]).decode() == node_templates.instance_store_user_data("RAID0", weights_cache=True)
    plain = _run(run, "cpu", {"instance_types": ["m6i.xlarge"]}).named("cpu-lt", "aws:ec2/launchTemplate:LaunchTemplate")
    assert "userData" not in plain.inputs

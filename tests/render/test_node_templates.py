"""Pure node group facts: AMI types, labels, taints, ASG node-template tags, priority expander ranking."""

import re

import pytest
import yaml

from modelstack.render import labels, node_templates as nt

P = "k8s.io/cluster-autoscaler/node-template"


@pytest.mark.parametrize("kind,arch,ami", [
    ("cpu", "amd64", "AL2023_x86_64_STANDARD"), ("system", "amd64", "AL2023_x86_64_STANDARD"),
    ("cpu", "arm64", "AL2023_ARM_64_STANDARD"), ("gpu", "amd64", "AL2023_x86_64_NVIDIA"),
    ("gpu", "arm64", "AL2023_ARM_64_NVIDIA"), ("inferentia", "amd64", "AL2023_x86_64_NEURON"),
])
def test_ami_types(kind, arch, ami):
    assert nt.ami_type(kind, arch) == ami


def test_inferentia_on_arm_is_rejected():
    with pytest.raises(ValueError, match="x86_64 only"):
        nt.ami_type("inferentia", "arm64")


def test_gpu_template_tags_cover_labels_taint_gpu_count_and_storage():
    lab = nt.node_labels("gpu-a10g", "gpu-a10g", "gpu")
    taints = nt.node_taints("gpu")
    assert taints == [labels.GPU_TAINT]
    tags = nt.template_tags(lab, taints, "ON_DEMAND", "gpu", accelerator_count=1, ephemeral_storage_gib=100)
    assert tags == {
        f"{P}/label/eks.amazonaws.com/capacityType": "ON_DEMAND",
        f"{P}/label/modelstack.io/node-group": "gpu-a10g",
        f"{P}/label/modelstack.io/node-pool": "gpu-a10g",
        f"{P}/label/nvidia.com/gpu": "true",
        f"{P}/label/nvidia.com/gpu.present": "true",
        f"{P}/resources/ephemeral-storage": "100Gi",
        f"{P}/resources/nvidia.com/gpu": "1",
        f"{P}/taint/nvidia.com/gpu": "true:NoSchedule",
    }


def test_neuron_and_system_taints():
    assert nt.node_taints("inferentia") == [labels.NEURON_TAINT]
    assert nt.node_taints("system") == [labels.SYSTEM_TAINT]
    assert nt.node_taints("cpu", [{"key": "team", "value": "a"}]) == [{"key": "team", "value": "a", "effect": "NoSchedule"}]


def test_kind_labels_and_extra_labels():
    assert nt.node_labels("inf", "inf-pool", "inferentia", {"team": "a"}) == {
        "modelstack.io/node-group": "inf", "modelstack.io/node-pool": "inf-pool", "aws.amazon.com/neuron": "true", "team": "a"}
    assert nt.node_labels("cpu", "cpu", "cpu") == {"modelstack.io/node-group": "cpu", "modelstack.io/node-pool": "cpu"}


def test_user_taints_default_to_an_empty_value_and_do_not_repeat_a_kind_taint():
    # Same key and effect as the GPU kind taint: the kind's wins and it appears once.
    assert nt.node_taints("gpu", [{"key": "nvidia.com/gpu", "value": "other"}, {"key": "dedicated"}]) == [
        {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"},
        {"key": "dedicated", "value": "", "effect": "NoSchedule"}]
    # Same key, another effect: both stay.
    assert nt.node_taints("cpu", [{"key": "k", "effect": "NoSchedule"}, {"key": "k", "effect": "NoExecute"}]) == [
        {"key": "k", "value": "", "effect": "NoSchedule"}, {"key": "k", "value": "", "effect": "NoExecute"}]


@pytest.mark.parametrize("capacity", ["spot", "on-demand", ""])
def test_template_tags_reject_unknown_capacity_types(capacity):
    with pytest.raises(ValueError, match="capacity_type must be ON_DEMAND or SPOT"):
        nt.template_tags({}, [], capacity, "cpu")


def test_accelerators_on_a_cpu_group_are_rejected():
    with pytest.raises(ValueError, match="gpu or inferentia"):
        nt.template_tags({}, [], "SPOT", "cpu", accelerator_count=1)


def test_tag_slugs_are_unique_and_name_safe():
    slugs = nt.tag_slugs([f"{P}/label/a.b", f"{P}/taint/a.b"])
    assert list(slugs.values()) == ["label-a-b", "taint-a-b"]
    with pytest.raises(ValueError, match="share the resource name suffix"):
        nt.tag_slugs([f"{P}/label/a.b", f"{P}/label/a-b"])


def test_expander_ranks_priority_then_spot_then_small():
    groups = [
        {"name": "cpu-on-demand", "priority": 50, "capacity_type": "ON_DEMAND", "vcpu": 4},
        {"name": "cpu", "priority": 50, "capacity_type": "SPOT", "vcpu": 4},
        {"name": "cpu-large", "priority": 50, "capacity_type": "SPOT", "vcpu": 16},
        {"name": "gpu", "priority": 90, "capacity_type": "ON_DEMAND", "vcpu": 4},
    ]
    pr = nt.expander_priorities(groups)
    order = [regexes for _, regexes in sorted(pr.items(), reverse=True)]
    assert order == [[nt.asg_name_regex("gpu")], [nt.asg_name_regex("cpu")], [nt.asg_name_regex("cpu-large")],
                     [nt.asg_name_regex("cpu-on-demand")], [".*"]]
    assert pr[1] == [".*"]


# priority * 1000 + (500 if spot) + (499 - vCPUs, floored at 0), computed by hand.
@pytest.mark.parametrize("priority,capacity,vcpu,score", [
    (50, "SPOT", 4, 50995), (50, "ON_DEMAND", 4, 50495), (100, "SPOT", 2, 100997),
    (1, "ON_DEMAND", 499, 1000), (1, "ON_DEMAND", 768, 1000), (60, "SPOT", 3.6, 60995),
])
def test_expander_score_values(priority, capacity, vcpu, score):
    assert nt.expander_score(priority, capacity, vcpu) == score


def test_config_priority_outranks_spot_and_size():
    assert nt.expander_score(51, "ON_DEMAND", 499) > nt.expander_score(50, "SPOT", 1)
    assert nt.expander_score(50, "SPOT", 499) > nt.expander_score(50, "ON_DEMAND", 1)


@pytest.mark.parametrize("priority,capacity,message", [
    (0, "SPOT", "priority must be 1-100, got 0"), (101, "SPOT", "priority must be 1-100, got 101"),
    (50, "spot", "capacity_type must be ON_DEMAND or SPOT, got 'spot'"),
])
def test_expander_score_rejects(priority, capacity, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        nt.expander_score(priority, capacity, 4)


def test_equal_rank_groups_share_a_tier():
    pr = nt.expander_priorities([{"name": "a", "priority": 10, "capacity_type": "SPOT", "vcpu": 2},
                                 {"name": "b", "priority": 10, "capacity_type": "SPOT", "vcpu": 2}])
    assert pr == {10997: [nt.asg_name_regex("a"), nt.asg_name_regex("b")], 1: [".*"]}  # 10*1000 + 500 + (499-2)


def test_asg_regex_matches_only_its_own_group():
    uuid = "4ec2b3a1-1234-5678-9abc-def012345678"
    rx = re.compile(nt.asg_name_regex("gpu"))
    assert rx.match(f"eks-{nt.eks_node_group_name('gpu', {'instanceTypes': ['g6.xlarge']})}-{uuid}")
    assert not rx.match(f"eks-{nt.eks_node_group_name('gpu-on-demand', {})}-{uuid}")
    assert not rx.match(f"eks-gpu-{uuid}")


def test_the_eks_name_changes_with_the_replacing_inputs_only():
    a = nt.eks_node_group_name("models-prod-cpu", {"instanceTypes": ["m6i.xlarge"], "capacityType": "SPOT"})
    assert re.fullmatch(r"models-prod-cpu-[0-9a-f]{7}", a) and len(a) == len("models-prod-cpu") + 8
    assert a == nt.eks_node_group_name("models-prod-cpu", {"capacityType": "SPOT", "instanceTypes": ["m6i.xlarge"]})
    assert a != nt.eks_node_group_name("models-prod-cpu", {"instanceTypes": ["m6i.xlarge"], "capacityType": "ON_DEMAND"})


def test_duplicate_group_names_are_rejected():
    g = {"name": "a", "priority": 10, "capacity_type": "SPOT", "vcpu": 2}
    with pytest.raises(ValueError, match="unique"):
        nt.expander_priorities([g, g])


def test_rendered_configmap_text():
    text = nt.render_expander_config({50497: ["^a$"], 1: [".*"]})
    assert text == "50497:\n  - '^a$'\n1:\n  - '.*'\n"


def test_instance_store_user_data_is_a_nodeadm_node_config_in_mime():
    import email

    (only,) = email.message_from_string(nt.instance_store_user_data()).get_payload()  # no cache: the NodeConfig only
    assert only.get_content_type() == nt.NODEADM_CONTENT_TYPE
    msg = email.message_from_string(nt.instance_store_user_data(weights_cache=True))
    assert msg.is_multipart()
    part, script = msg.get_payload()
    assert part.get_content_type() == nt.NODEADM_CONTENT_TYPE
    doc = yaml.safe_load(part.get_payload())
    assert doc["kind"] == "NodeConfig" and doc["apiVersion"] == "node.eks.aws/v1alpha1"
    assert doc["spec"]["instance"]["localStorage"]["strategy"] == "RAID0"
    # then the script that prepares the node-wide weight cache on that RAID
    assert script.get_content_type() == "text/x-shellscript" and script.get_payload().rstrip("\n") == nt.weights_cache_script().rstrip("\n")
    with pytest.raises(ValueError):
        nt.instance_store_user_data("RAID5")


def _drop_in(script: str) -> str:
    """The kubelet drop-in the script writes (its here-document)."""
    lines = script.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("cat > ")) + 1
    return "\n".join(lines[start:lines.index("EOF", start)])


def test_the_weights_cache_script_makes_the_folder_when_the_kubelet_starts_owned_by_the_pods_user(tmp_path):
    import configparser
    import subprocess

    script = nt.weights_cache_script(uid=4242)
    # a kubelet drop-in written to the path the script names, then a reload so the kubelet nodeadm starts later uses it
    assert f"cat > {nt.WEIGHTS_CACHE_DROP_IN} <<'EOF'" in script and script.rstrip().endswith("systemctl daemon-reload")
    unit = configparser.ConfigParser()
    unit.read_string(_drop_in(script))
    pre = unit["Service"]["ExecStartPre"].split()
    assert pre[0] == "/usr/bin/install" and pre[-1] == nt.WEIGHTS_CACHE_ROOT
    assert pre[1:-1] == ["-d", "-o", "4242", "-g", "4242", "-m", "0755"]
    assert nt.WEIGHTS_CACHE_ROOT.startswith(nt.RAID_MOUNT + "/")
    # the script itself is valid bash
    subprocess.run(["bash", "-n"], input=script, text=True, check=True)


def test_an_ec2_node_class_user_data_carries_only_the_cache_script():
    import email

    msg = email.message_from_string(nt.weights_cache_user_data())
    (script,) = msg.get_payload()  # Karpenter v1.14.1 appends its own NodeConfig (with instanceStorePolicy's RAID0)
    assert script.get_content_type() == "text/x-shellscript"
    assert "ExecStartPre=/usr/bin/install" in script.get_payload()

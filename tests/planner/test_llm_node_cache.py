"""LLM weights cached once per node (`llm.node_cache`) and Hugging Face tokens (`llm.hf_token_secret`): what the
planner decides, what the pod looks like, how the fill behaves when pods race on one node, and bad input."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from modelstack import program
from modelstack.config.schema import CONFIG_KEY, SECRET_NAME_RULE, ConfigError
from modelstack.planner import llm as planner_llm
from modelstack.planner.capacity import plan_platform
from modelstack.policies import engine
from modelstack.policies.rule import Context, Resource
from modelstack.render import node_templates, vllm
from modelstack.serving import model_api
from planner.test_llm import TODAY, planned, stack

HF = "hf://meta-llama/Llama-3.1-8B-Instruct"


def issues(tmp_path, llm, **model):
    values, source = stack(tmp_path, llm, **model)
    with pytest.raises(ConfigError) as e:
        plan_platform("dev", values, source, TODAY)
    return [(i.path, i.given, i.allowed) for i in e.value.issues]


# ------------------------------------------------------------------------------------------- validation


def test_a_token_secret_for_s3_weights_is_refused_naming_both(tmp_path):
    (path, given, allowed), = issues(tmp_path, {"hf_token_secret": "hf-token"})
    assert path == f"{CONFIG_KEY}.models.chat.llm"
    assert "hf_token_secret 'hf-token'" in given and "s3://weights-bucket/chat" in given
    assert "only with hf://" in allowed


@pytest.mark.parametrize("name", ["HF-Token", "hf_token", "-hf", "hf.", "a..b", "x" * 254])
def test_a_secret_name_kubernetes_would_refuse_is_refused(tmp_path, name):
    (path, given, allowed), = issues(tmp_path, {"weights": HF, "hf_token_secret": name})
    assert path == f"{CONFIG_KEY}.models.chat.llm.hf_token_secret" and name[:20] in given
    assert allowed == SECRET_NAME_RULE


@pytest.mark.parametrize("name", ["hf-token", "a", "hf.token.v2", "x" * 253])
def test_dns_1123_subdomains_are_accepted(tmp_path, name):
    _, capacity = planned(tmp_path, {"weights": HF, "hf_token_secret": name})
    assert capacity.llms["chat"].hf_token == (name, "token")


def test_a_secret_key_without_a_secret_or_with_a_slash_is_refused(tmp_path):
    (path, given, _), = issues(tmp_path, {"weights": HF, "hf_token_secret_key": "tok"})
    assert path.endswith("models.chat.llm") and "without hf_token_secret" in given
    (path, _, allowed), = issues(tmp_path, {"weights": HF, "hf_token_secret": "s", "hf_token_secret_key": "a/b"})
    assert path.endswith("llm.hf_token_secret_key") and "letters, digits" in allowed


def test_a_bad_weights_source_says_what_is_allowed(tmp_path):
    (path, _, allowed), = issues(tmp_path, {"weights": "hf://no-slash"})
    assert path.endswith("llm.weights") and "hf://org/name[@revision]" in allowed


def test_a_node_cache_namespace_holds_only_node_cache_llms(tmp_path):
    values, source = stack(tmp_path, {"node_cache": True})
    values[CONFIG_KEY]["models"]["web"] = {"image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1"}
    with pytest.raises(ConfigError) as e:
        plan_platform("dev", values, source, TODAY)
    (i,) = [i for i in e.value.issues if i.path.endswith("models.web.namespace")]
    assert "'models'" in i.given and "chat" in i.given and "llm.node_cache: true" in i.allowed
    values[CONFIG_KEY]["models"]["web"]["namespace"] = "web"
    plan_platform("dev", values, source, TODAY)  # a namespace of its own is fine


# ------------------------------------------------------------------------------------------- planning


def test_hf_weights_downloaded_by_the_engine_get_the_token_as_hf_token(tmp_path):
    platform, capacity = planned(tmp_path, {"weights": HF + "@v1.2", "hf_token_secret": "hf-token",
                                            "hf_token_secret_key": "hf"})
    p, m = capacity.llms["chat"], platform.config.models["chat"]
    assert m.args[0] == "meta-llama/Llama-3.1-8B-Instruct"
    assert dict(zip(m.args[1::2], m.args[2::2]))["--revision"] == "v1.2"
    assert planner_llm.model_api_extras(p) == {"secret_env": {"HF_TOKEN": {"secret": "hf-token", "key": "hf"}}}
    assert p.weights_path.startswith("HF_HOME")


def test_the_node_cache_entry_is_keyed_by_namespace_model_and_source(tmp_path):
    def key(**llm):
        return planned(tmp_path, {"node_cache": True, **llm})[1].llms["chat"].cache_key

    base = key()
    assert base.startswith("models.chat.") and base == key()
    assert key(weights="s3://weights-bucket/chat-v2") != base
    # an hf:// id without a revision is its main branch; another revision is another entry
    assert key(weights=HF) == key(weights=HF + "@main") != key(weights=HF + "@abc123")
    values, source = stack(tmp_path, {"node_cache": True}, namespace="team-a")
    assert plan_platform("dev", values, source, TODAY)[1].llms["chat"].cache_key.startswith("team-a.chat.")


def test_a_warm_node_skips_the_copy_and_the_budgets_keep_the_cold_figure(tmp_path):
    platform, capacity = planned(tmp_path, {"node_cache": True})
    p = capacity.llms["chat"]
    row = p.row()["cold_start"]
    assert row["warm_node"] == row["weights_load"] + row["engine_init"] < row["total"]
    assert row["total"] == row["node"] + row["image_pull"] + row["weights_copy"] + row["weights_load"] + row["engine_init"]
    assert platform.config.models["chat"].cold_start == row["total"]
    # without the node cache a new pod copies again, on a warm node too
    per_pod = planned(tmp_path, {})[1].llms["chat"].row()["cold_start"]
    assert per_pod["warm_node"] == per_pod["weights_copy"] + per_pod["weights_load"] + per_pod["engine_init"]
    assert "warm node (cache hit)" in "\n".join(planner_llm.table(capacity.llms))


def test_hf_weights_in_the_node_cache_need_nvme_and_are_filled_by_the_engine_image(tmp_path):
    platform, capacity = planned(tmp_path, {"weights": HF, "node_cache": True, "hf_token_secret": "hf-token"})
    p, m = capacity.llms["chat"], platform.config.models["chat"]
    assert p.option.itype.local_nvme_gb and m.args[0] == "/models/chat" and "--revision" not in m.args
    extras = planner_llm.model_api_extras(p)
    (init,) = extras["init_containers"]
    assert init["image"] == m.image and init["command"][:3] == ["python3", "-c", planner_llm.HF_FILL_SCRIPT]
    assert init["command"][3:] == [planner_llm.NODE_CACHE_MOUNT, p.cache_key, "meta-llama/Llama-3.1-8B-Instruct", "main"]
    assert init["secret_env"] == {"HF_TOKEN": {"secret": "hf-token", "key": "token"}}
    assert "secret_env" not in extras  # the engine reads the local copy: it never sees the token
    assert extras["node_cache"] == {"host_path": node_templates.WEIGHTS_CACHE_ROOT, "sub_path": p.cache_key,
                                    "mount_path": "/models/chat", "init_mount_path": planner_llm.NODE_CACHE_MOUNT}
    assert p.weights_path == f"{node_templates.WEIGHTS_CACHE_ROOT}/{p.cache_key}"


def test_node_cache_pools_get_the_raid_and_the_namespace_admits_hostpath(tmp_path):
    values, source = stack(tmp_path, {"weights": HF, "node_cache": True})
    values[CONFIG_KEY]["cluster"]["provisioner"] = "cluster-autoscaler"
    platform, capacity = plan_platform("dev", values, source, TODAY)
    group = next(g for g in capacity.groups if "chat" in g.models)
    args = program._node_group_args(platform, group, _FakeCluster(), {}, capacity)
    assert args["instance_store_policy"] == "RAID0" and args["weights_cache"] is True
    assert platform.config.node_cache_namespaces == {"models"}
    assert program.pod_security_labels(True)["pod-security.kubernetes.io/enforce"] == "privileged"
    assert program.pod_security_labels(True)["pod-security.kubernetes.io/warn"] == "restricted"
    assert program.pod_security_labels(False) == {"pod-security.kubernetes.io/enforce": "restricted"}
    plain, _ = planned(tmp_path, {"weights": HF})
    assert plain.config.node_cache_namespaces == set()


class _FakeCluster:
    cluster_name = node_role_arn = private_subnet_ids = kubernetes_version = "x"


# ------------------------------------------------------------------------------------------- the pod


def _pod(tmp_path, **llm):
    platform, capacity = planned(tmp_path, llm)
    args = program.model_args(platform, "chat", platform.config.models["chat"], capacity)
    return model_api.resolve("chat", args).objects["deployment"]["spec"]["template"]["spec"], capacity.llms["chat"]


def test_the_engine_mounts_its_own_entry_read_only_and_only_the_init_container_writes(tmp_path):
    pod, p = _pod(tmp_path, node_cache=True)
    assert {"name": "node-cache", "hostPath": {"path": node_templates.WEIGHTS_CACHE_ROOT, "type": "Directory"}} in pod["volumes"]
    assert not [v for v in pod["volumes"] if v["name"] == "cache"]  # no per-pod emptyDir
    (init,) = pod["initContainers"]
    assert {"name": "node-cache", "mountPath": planner_llm.NODE_CACHE_MOUNT} in init["volumeMounts"]
    engine_, proxy = pod["containers"][:2]
    assert {"name": "node-cache", "mountPath": "/models/chat", "subPath": p.cache_key, "readOnly": True} in engine_["volumeMounts"]
    assert not [m for m in proxy["volumeMounts"] if m["name"] == "node-cache"]
    assert engine_["args"][0] == "/models/chat"
    # the policy pack's hostPath rule admits exactly this pod
    rule = engine.rule("pod-host-path")
    res = Resource.from_record({"type": "kubernetes:apps/v1:Deployment", "name": "chat",
                                "inputs": {"spec": {"template": {"spec": pod}}}})
    assert list(rule.check(res.type, res.props, Context("dev", rule.defaults()))) == []


def test_a_token_reaches_the_engine_as_a_secret_key_ref(tmp_path):
    pod, _ = _pod(tmp_path, weights=HF, hf_token_secret="hf-token")
    env = pod["containers"][0]["env"]
    assert {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf-token", "key": "token"}}} in env
    assert not [e for e in env if e["name"] == "HF_TOKEN" and "value" in e]  # never a plain value


def test_under_the_mocks_the_deployment_carries_the_cache_and_the_secret(run, tmp_path):
    import pulumi

    platform, capacity = planned(tmp_path, {"weights": HF, "node_cache": True, "hf_token_secret": "hf-token"})
    args = program.model_args(platform, "chat", platform.config.models["chat"], capacity)

    def prog() -> None:
        pulumi.export("deployment", model_api.ModelAPI("chat", args).deployment_name)

    r = run(prog)
    pod = r.named("chat-deployment").inputs["spec"]["template"]["spec"]
    (init,) = pod["initContainers"]
    assert {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf-token", "key": "token"}}} in init["env"]
    assert [v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v] == [node_templates.WEIGHTS_CACHE_ROOT]
    assert all(m.get("readOnly") for m in pod["containers"][0]["volumeMounts"] if m["name"] == "node-cache")


def test_model_api_refuses_a_node_cache_it_cannot_render():
    base = {"image": "ghcr.io/acme/m:1"}
    nc = {"host_path": "/mnt/x", "sub_path": "a", "mount_path": "/models", "init_mount_path": "/cache"}
    with pytest.raises(ValueError, match="not both"):
        model_api.resolve("m", {**base, "node_cache": nc, "cache_volume": {"mount_path": "/m", "size_limit": "1Gi"}})
    with pytest.raises(ValueError, match="'..'"):
        model_api.resolve("m", {**base, "node_cache": {**nc, "sub_path": "../etc"}})
    with pytest.raises(ValueError, match="needs host_path"):
        model_api.resolve("m", {**base, "node_cache": {k: v for k, v in nc.items() if k != "sub_path"}})
    with pytest.raises(ValueError, match="also in env"):
        model_api.resolve("m", {**base, "env": {"T": "x"}, "secret_env": {"T": {"secret": "s", "key": "k"}}})


# ------------------------------------------------------------------------------------------- the fill, run


def _fake_aws(bin_dir: Path, source: Path, calls: Path) -> None:
    """An `aws` that 'syncs' `source` into its last argument slowly (one file at a time) and counts its calls."""
    bin_dir.mkdir()
    (bin_dir / "aws").write_text(textwrap.dedent(f"""\
        #!/bin/sh
        echo x >> {calls}
        for dest; do :; done
        mkdir -p "$dest"
        for f in {source}/*; do sleep 0.2; cp "$f" "$dest/"; done
        """))
    (bin_dir / "aws").chmod(0o755)


def _fill_s3(root: Path, key: str, pod: str, bin_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "HOSTNAME": pod}
    return subprocess.run(["/bin/sh", "-c", planner_llm.S3_FILL_SCRIPT, "fill", str(root), key, "s3://b/p"],
                          env=env, capture_output=True, text=True)


def test_pods_racing_on_one_node_never_see_a_partial_copy_and_a_hit_copies_nothing(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    for i in range(4):
        (source / f"model-{i}.safetensors").write_text(str(i) * 100)
    root, calls, bin_dir = tmp_path / "cache", tmp_path / "calls", tmp_path / "bin"
    root.mkdir()
    _fake_aws(bin_dir, source, calls)
    results: dict[str, subprocess.CompletedProcess] = {}
    seen_partial = []

    def watch() -> None:  # what an engine would see while the copies run: nothing, or everything
        while len(results) < 2:
            final = root / "k"
            if final.is_dir() and len(list(final.iterdir())) != 4:
                seen_partial.append(sorted(final.iterdir()))

    pods = [threading.Thread(target=lambda p=p: results.__setitem__(p, _fill_s3(root, "k", p, bin_dir)))
            for p in ("pod-a", "pod-b")]
    watcher = threading.Thread(target=watch)
    watcher.start()
    for t in pods:
        t.start()
    for t in (*pods, watcher):
        t.join()
    assert [r.returncode for r in results.values()] == [0, 0], [r.stderr for r in results.values()]
    assert seen_partial == []
    assert sorted(f.name for f in (root / "k").iterdir()) == [f"model-{i}.safetensors" for i in range(4)]
    assert [p.name for p in root.iterdir()] == ["k"]  # the loser's copy is gone
    assert len(calls.read_text().split()) == 2
    again = _fill_s3(root, "k", "pod-c", bin_dir)
    assert again.returncode == 0 and "node cache hit" in again.stdout
    assert len(calls.read_text().split()) == 2  # a hit downloads nothing


def test_a_failed_copy_leaves_no_entry_and_fails_the_pod(tmp_path):
    bin_dir, root = tmp_path / "bin", tmp_path / "cache"
    bin_dir.mkdir()
    root.mkdir()
    (bin_dir / "aws").write_text('#!/bin/sh\nfor d; do :; done; mkdir -p "$d"; echo half > "$d/x"; exit 1\n')
    (bin_dir / "aws").chmod(0o755)
    r = _fill_s3(root, "k", "pod-a", bin_dir)
    assert r.returncode != 0 and not (root / "k").exists()


def test_the_hugging_face_fill_renames_a_complete_download_into_place(tmp_path):
    fake = tmp_path / "site" / "huggingface_hub"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(textwrap.dedent("""\
        import os
        def snapshot_download(repo_id, *, revision=None, local_dir=None):  # the real one's keyword-only arguments
            os.makedirs(os.path.join(local_dir, ".cache", "huggingface"))
            with open(os.path.join(local_dir, "config.json"), "w") as f:
                f.write(repo_id + "@" + revision + ":" + os.environ.get("HF_TOKEN", ""))
        """))
    root = tmp_path / "cache"
    root.mkdir()

    def fill(pod: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHONPATH": str(tmp_path / "site"), "HOSTNAME": pod, "HF_TOKEN": "hf_x"}
        return subprocess.run([sys.executable, "-c", planner_llm.HF_FILL_SCRIPT, str(root), "k", "org/m", "main"],
                              env=env, capture_output=True, text=True)

    r = fill("pod-a")
    assert r.returncode == 0, r.stderr
    assert (root / "k" / "config.json").read_text() == "org/m@main:hf_x"
    assert [p.name for p in root.iterdir()] == ["k"] and not (root / "k" / ".cache").exists()
    assert "node cache hit" in fill("pod-b").stdout


def test_the_engine_flag_for_a_revision_is_vllms():
    import json

    from modelstack.data import read_text
    assert vllm.FLAGS["revision"] in json.loads(read_text("vllm_facts.json"))["engine_flags"]


# ------------------------------------------------------------------------------------------- the facts behind it

ROOT = Path(__file__).resolve().parents[2]


def _upstream_rows() -> list[str]:
    text = (ROOT / "components" / "data" / "UPSTREAM.md").read_text()
    section = text.split("### Node-wide weight cache and Hugging Face tokens", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| ")]


def test_the_pins_follow_the_recorded_upstream_facts():
    rows = _upstream_rows()
    (disks,) = [r for r in rows if "setup-local-disks" in r and "`${MNT_DIR}/0`" in r]
    assert "`/mnt/k8s-disks`" in disks and f"`{node_templates.RAID_MOUNT}`" in disks
    assert node_templates.WEIGHTS_CACHE_ROOT.startswith(node_templates.RAID_MOUNT + "/")
    (token,) = [r for r in rows if "token lookup" in r]
    assert f"`{planner_llm.HF_TOKEN_ENV}`, then `HUGGING_FACE_HUB_TOKEN`" in token and "huggingface_hub 1.31.0" in token
    (ordering,) = [r for r in rows if "run phase" in r]
    assert "kubelet drop-in" in ordering and str(node_templates.WEIGHTS_CACHE_UID) in ordering


def test_vllm_passes_no_token_of_its_own_and_needs_the_recorded_huggingface_hub():
    import zipfile

    sys.path.insert(0, str(ROOT / "tools"))
    import vllm_facts
    if not vllm_facts.wheel_path().is_file():
        pytest.skip(f"the pinned wheel is not cached: `make vllm-wheel` "
                    f"({vllm_facts.wheel_path()})")
    with zipfile.ZipFile(vllm_facts.fetch()) as z:
        meta = z.read(f"vllm-{vllm.VERSION}.dist-info/METADATA").decode()
        model = z.read("vllm/config/model.py").decode()
        sources = [z.read(n).decode(errors="replace") for n in z.namelist() if n.endswith(".py")]
    assert "Requires-Dist: huggingface_hub>=1.31.0" in meta.splitlines()
    # the engine's own token option defaults to none (huggingface_hub's lookup, so HF_TOKEN); we never render it
    assert "    hf_token: bool | str | None = None" in model.splitlines()
    assert "--hf-token" not in " ".join(vllm.FLAGS.values())
    assert not [s for s in sources if planner_llm.HF_TOKEN_ENV in s]

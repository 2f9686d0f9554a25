"""A small, strict kustomize for the upstream trees `make e2e` deploys (no network, standard library + PyYAML).

It builds a kustomization directory from a module's files (path inside the module -> bytes), with the features
KEDA's `config/minimal` and the HTTP add-on's `config/default` use, with kustomize v5's meaning (read in
sigs.k8s.io/kustomize/api@v0.21.0, see e2e/README.md): `resources` (files and folders), `namespace` (namespaced
kinds only; binding subjects are not touched, as kustomize's default `defaultOnly` mode), `namePrefix` (with the
name references kustomize updates: a Deployment's ServiceAccount, binding roleRefs and ServiceAccount subjects,
which also take the ServiceAccount's namespace, an APIService's Service; plus the fields a `configurations` file
names), `labels` (pairs, includeSelectors, includeTemplates), `images`, `patches` (JSON 6902 from a file, with a
target) and the builtin `LabelTransformer` under `transformers`. Anything else in a kustomization is refused
(KustomizeError naming the file and key), so an upstream tree that needs more fails loudly instead of rendering
something else.
"""

from __future__ import annotations

import copy
import posixpath
from typing import Any, Mapping

import yaml

KNOWN_KEYS = {"apiVersion", "kind", "resources", "namespace", "namePrefix", "labels", "images", "patches",
              "transformers", "configurations"}
#: Kinds without a namespace, among those the trees hold.
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "APIService",
                  "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"}


class KustomizeError(ValueError):
    """A tree this renderer cannot build as kustomize would (the message names the file and what is unsupported)."""


def _docs(files: Mapping[str, bytes], path: str) -> list[dict]:
    if path not in files:
        raise KustomizeError(f"{path}: no such file in the module")
    return [d for d in yaml.safe_load_all(files[path].decode()) if d]


def build(files: Mapping[str, bytes], root: str) -> list[dict]:
    """The objects `kustomize build <root>` makes, in resource order."""
    root = root.rstrip("/")
    kpath = f"{root}/kustomization.yaml"
    (k,) = _docs(files, kpath) or [{}]
    unknown = sorted(set(k) - KNOWN_KEYS)
    if unknown:
        raise KustomizeError(f"{kpath}: unsupported kustomization keys {unknown} (supported: {sorted(KNOWN_KEYS)})")
    objs: list[dict] = []
    for r in k.get("resources") or []:
        p = posixpath.normpath(f"{root}/{r}")
        if f"{p}/kustomization.yaml" in files:
            objs.extend(build(files, p))
        else:
            objs.extend(copy.deepcopy(_docs(files, p)))
    for patch in k.get("patches") or []:
        _patch(files, root, patch, objs)
    if "namespace" in k:
        for o in objs:
            if o["kind"] not in CLUSTER_SCOPED:
                o.setdefault("metadata", {})["namespace"] = k["namespace"]
    if "namePrefix" in k:
        extra = [fs for c in k.get("configurations") or [] for fs in _docs(files, f"{root}/{c}")[0].get("namePrefix", [])]
        _prefix(objs, k["namePrefix"], extra)
    elif k.get("configurations"):
        raise KustomizeError(f"{kpath}: `configurations` without namePrefix is not supported")
    for spec in k.get("labels") or []:
        _labels(objs, spec["pairs"], spec.get("includeSelectors", False), spec.get("includeTemplates", False))
    for t in k.get("transformers") or []:
        (tr,) = _docs(files, posixpath.normpath(f"{root}/{t}"))
        if (tr.get("apiVersion"), tr.get("kind")) != ("builtin", "LabelTransformer") or \
                tr.get("fieldSpecs") != [{"path": "metadata/labels", "create": True}]:
            raise KustomizeError(f"{root}/{t}: only the builtin LabelTransformer on metadata/labels is supported")
        for o in objs:
            o.setdefault("metadata", {}).setdefault("labels", {}).update(tr["labels"])
    for img in k.get("images") or []:
        _image(objs, img)
    return objs


def _patch(files: Mapping[str, bytes], root: str, patch: dict, objs: list[dict]) -> None:
    t = patch.get("target") or {}
    if set(patch) != {"path", "target"} or set(t) - {"group", "version", "kind", "name"}:
        raise KustomizeError(f"{root}: only JSON 6902 patches from a file with a group/version/kind/name target")
    (ops,) = _docs(files, posixpath.normpath(f"{root}/{patch['path']}"))
    hits = [o for o in objs if o["kind"] == t.get("kind", o["kind"]) and o["metadata"]["name"] == t.get("name", o["metadata"]["name"])
            and o["apiVersion"] == "/".join(x for x in (t.get("group"), t.get("version")) if x)]
    if not hits:
        raise KustomizeError(f"{root}/{patch['path']}: its target {t} matches no resource")
    for o in hits:
        for op in ops:
            json_patch(o, op)


def json_patch(doc: Any, op: dict) -> None:
    """One RFC 6902 `add`/`remove`/`replace` operation, in place (`-` appends to a list)."""
    parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
    *parents, last = parts
    node = doc
    for p in parents:
        node = node[int(p)] if isinstance(node, list) else node[p]
    kind = op["op"]
    if kind not in ("add", "remove", "replace"):
        raise KustomizeError(f"JSON patch op {kind!r} is not supported")
    if isinstance(node, list):
        if kind == "add":
            node.insert(len(node) if last == "-" else int(last), op["value"])
        elif kind == "remove":
            del node[int(last)]
        else:
            node[int(last)] = op["value"]
    else:
        if kind != "add" and last not in node:
            raise KustomizeError(f"JSON patch {kind} {op['path']}: no such field")
        if kind == "remove":
            del node[last]
        else:
            node[last] = op["value"]


def _get(o: Any, path: list[str]) -> Any:
    for p in path:
        if not isinstance(o, dict) or p not in o:
            return None
        o = o[p]
    return o


def _prefix(objs: list[dict], prefix: str, extra_specs: list[dict]) -> None:
    renamed: dict[tuple[str, str], tuple[str, str]] = {}  # (kind, old name) -> (new name, namespace)
    for o in objs:
        if o["kind"] in ("Namespace", "CustomResourceDefinition", "APIService"):
            continue  # kustomize never prefixes these
        old = o["metadata"]["name"]
        o["metadata"]["name"] = prefix + old
        renamed[(o["kind"], old)] = (prefix + old, o["metadata"].get("namespace", ""))

    def ref(kind: str, name: str) -> tuple[str, str] | None:
        return renamed.get((kind, name))

    for o in objs:
        kind = o["kind"]
        if kind == "Deployment":
            spec = o["spec"]["template"]["spec"]
            r = ref("ServiceAccount", spec.get("serviceAccountName", ""))
            if r:
                spec["serviceAccountName"] = r[0]
        if kind in ("RoleBinding", "ClusterRoleBinding"):
            rr = o["roleRef"]
            r = ref(rr["kind"], rr["name"])
            if r:
                rr["name"] = r[0]
            for s in o.get("subjects") or []:
                r = ref(s["kind"], s["name"]) if s["kind"] == "ServiceAccount" else None
                if r:
                    s["name"] = r[0]
                    if r[1]:
                        s["namespace"] = r[1]
        if kind == "APIService":
            svc = o["spec"].get("service") or {}
            r = ref("Service", svc.get("name", ""))
            if r:
                svc["name"] = r[0]
        for fs in extra_specs:
            if fs["kind"] != kind:
                continue
            *parents, last = fs["path"].split("/")
            nodes = [o]
            for p in parents:  # a list along the path applies to every element, as kustomize's field specs do
                nodes = [x for n in nodes for x in (n.get(p) if isinstance(n.get(p), list) else [n.get(p)])
                         if isinstance(x, dict)]
            for n in nodes:
                if isinstance(n.get(last), str):
                    n[last] = prefix + n[last]


def _labels(objs: list[dict], pairs: dict, selectors: bool, templates: bool) -> None:
    for o in objs:
        o.setdefault("metadata", {}).setdefault("labels", {}).update(pairs)
        if o["kind"] == "Deployment":
            if selectors:
                o["spec"]["selector"].setdefault("matchLabels", {}).update(pairs)
            if selectors or templates:
                o["spec"]["template"].setdefault("metadata", {}).setdefault("labels", {}).update(pairs)
        if o["kind"] == "Service" and selectors:
            o["spec"].setdefault("selector", {}).update(pairs)


def _image(objs: list[dict], img: dict) -> None:
    for o in objs:
        if o["kind"] != "Deployment":
            continue
        for c in o["spec"]["template"]["spec"]["containers"]:
            name, _, tag = c["image"].rpartition(":") if ":" in c["image"].rsplit("/", 1)[-1] else (c["image"], "", "")
            if name == img["name"]:
                c["image"] = f"{img.get('newName', name)}:{img.get('newTag', tag)}"

"""Regenerate the AWS part of components/data/replace_on.json from terraform-provider-aws source.

Which inputs of a resource force its replacement is a fact of the provider, not of modelstack: pulumi-aws bridges
hashicorp/terraform-provider-aws, whose SDKv2 resources mark such attributes `ForceNew: true` (or call
`ForceNew`/`customdiff.ForceNewIf*` in a CustomizeDiff) and whose Plugin-Framework resources give them a
`RequiresReplace()`/`RequiresReplaceIf...()` plan modifier. This script reads those marks from the Go source, maps
the Terraform attribute names to Pulumi's (camelCase; lists pluralised) with the installed pulumi_aws Python SDK
where one is given, and rewrites the AWS entries of the JSON file. Kubernetes and eks:index entries are curated
data (see UPSTREAM.md) and are kept as they are.

Usage (stdlib only, Python 3.11):

    python tools/replace_facts.py --module DIR_OR_ZIP --commit SHA [--zip ZIP] [--pulumi-sdk .venv/.../pulumi_aws]
        [--out components/data/replace_on.json] [--check]

DIR_OR_ZIP is the terraform-provider-aws module the pinned pulumi-aws builds (its `upstream` submodule commit),
as `go mod download -json github.com/hashicorp/terraform-provider-aws@<pseudo-version>` leaves it: the
extracted Dir, or the .zip. The zip's sha256 is recorded in "sources". --check compares instead of writing.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import sys
import zipfile
from pathlib import Path

# Pulumi token -> Terraform resource type, as pulumi-aws maps them (bridge-metadata.json "renames.resources").
AWS_TYPES = {
    "aws:amp/workspace:Workspace": "aws_prometheus_workspace",
    "aws:autoscaling/tag:Tag": "aws_autoscaling_group_tag",
    "aws:cloudwatch/eventRule:EventRule": "aws_cloudwatch_event_rule",
    "aws:cloudwatch/eventTarget:EventTarget": "aws_cloudwatch_event_target",
    "aws:cloudwatch/logGroup:LogGroup": "aws_cloudwatch_log_group",
    "aws:ec2/eip:Eip": "aws_eip",
    "aws:ec2/internetGateway:InternetGateway": "aws_internet_gateway",
    "aws:ec2/launchTemplate:LaunchTemplate": "aws_launch_template",
    "aws:ec2/natGateway:NatGateway": "aws_nat_gateway",
    "aws:ec2/routeTable:RouteTable": "aws_route_table",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "aws_route_table_association",
    "aws:ec2/subnet:Subnet": "aws_subnet",
    "aws:ec2/tag:Tag": "aws_ec2_tag",
    "aws:ec2/vpc:Vpc": "aws_vpc",
    "aws:eks/accessEntry:AccessEntry": "aws_eks_access_entry",
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": "aws_eks_access_policy_association",
    "aws:eks/addon:Addon": "aws_eks_addon",
    "aws:eks/nodeGroup:NodeGroup": "aws_eks_node_group",
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": "aws_eks_pod_identity_association",
    "aws:grafana/roleAssociation:RoleAssociation": "aws_grafana_role_association",
    "aws:grafana/workspace:Workspace": "aws_grafana_workspace",
    "aws:grafana/workspaceSamlConfiguration:WorkspaceSamlConfiguration": "aws_grafana_workspace_saml_configuration",
    "aws:grafana/workspaceServiceAccount:WorkspaceServiceAccount": "aws_grafana_workspace_service_account",
    "aws:grafana/workspaceServiceAccountToken:WorkspaceServiceAccountToken": "aws_grafana_workspace_service_account_token",
    "aws:iam/policy:Policy": "aws_iam_policy",
    "aws:iam/role:Role": "aws_iam_role",
    "aws:iam/rolePolicy:RolePolicy": "aws_iam_role_policy",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "aws_iam_role_policy_attachment",
    "aws:kms/key:Key": "aws_kms_key",
    "aws:s3/bucket:Bucket": "aws_s3_bucket",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": "aws_s3_bucket_lifecycle_configuration",
    "aws:s3/bucketPolicy:BucketPolicy": "aws_s3_bucket_policy",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": "aws_s3_bucket_public_access_block",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration":
        "aws_s3_bucket_server_side_encryption_configuration",
    "aws:sqs/queue:Queue": "aws_sqs_queue",
    "aws:sqs/queuePolicy:QueuePolicy": "aws_sqs_queue_policy",
}

# CustomizeDiff ForceNew calls whose target is an output: the input whose change triggers them, read from the
# CustomizeDiff code (vpc_nat_gateway.go validateRegionalNATGatewayAvailabilityZoneAddress: adding the first or
# removing the last availability_zone_address forces regional_nat_gateway_auto_mode new).
TRIGGERS = {("aws_nat_gateway", "regional_nat_gateway_auto_mode"): "availability_zone_address"}

REPO = "hashicorp/terraform-provider-aws"
MODULE = "github.com/hashicorp/terraform-provider-aws"


# ---------------------------------------------------------------- reading the module


class Source:
    """The module's files by path (relative to the module root), from a directory or a module zip."""

    def __init__(self, where: Path):
        self.files: dict[str, str] = {}
        self.zip_sha256 = None
        if where.is_file():
            data = where.read_bytes()
            self.zip_sha256 = hashlib.sha256(data).hexdigest()
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                for n in z.namelist():
                    if n.endswith(".go") and not n.endswith("_test.go") and ("/internal/" in n or "/names/" in n):
                        rel = n.split("@", 1)[1].split("/", 1)[1]  # <module>@<version>/<path>
                        self.files[rel] = z.read(n).decode("utf-8", "replace")
        else:
            for p in list((where / "internal").rglob("*.go")) + list((where / "names").rglob("*.go")):
                if not p.name.endswith("_test.go"):
                    self.files[p.relative_to(where).as_posix()] = p.read_text("utf-8", "replace")
        self.consts = {}
        for path, text in self.files.items():
            if path.startswith("names/"):
                for m in re.finditer(r"^\s*(Attr\w+)\s*=\s*\"([^\"]+)\"", text, re.M):
                    self.consts["names." + m.group(1)] = m.group(2)

    def package(self, path: str) -> dict[str, str]:
        d = path.rsplit("/", 1)[0]
        return {p: t for p, t in self.files.items() if p.rsplit("/", 1)[0] == d}


def _literal_end(text: str, i: int) -> int:
    """Index just past the Go string, rune or raw literal that starts at text[i] (backslash escapes outside raw)."""
    c, j, n = text[i], i + 1, len(text)
    while j < n and text[j] != c:
        j += 2 if (text[j] == "\\" and c != "`") else 1
    return j + 1


def strip_comments(text: str) -> str:
    """Blank out // and /* */ comments, keeping strings (incl. raw `...`) and offsets."""
    out, i, n = list(text), 0, len(text)
    while i < n:
        c = text[i]
        if c in "\"'`":
            i = _literal_end(text, i)
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            for k in range(i, j):
                out[k] = " "
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            for k in range(i, j):
                if out[k] != "\n":
                    out[k] = " "
            i = j
        else:
            i += 1
    return "".join(out)


def _code(text: str, i: int = 0):
    """(index, character) of every character from `i` on that lies outside a Go string or rune literal."""
    n = len(text)
    while i < n:
        c = text[i]
        if c in "\"'`":
            i = _literal_end(text, i)
            continue
        yield i, c
        i += 1


def match_close(text: str, i: int) -> int:
    """Index of the bracket closing the one at text[i] (comments already stripped)."""
    depth = 0
    for k, c in _code(text, i):
        if c in "{([":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                return k
    raise ValueError("unbalanced")


def _top_level(text: str):
    """(index, character) of every character outside Go string literals at bracket depth 0."""
    depth = 0
    for i, c in _code(text):
        if c in "{([":
            depth += 1
        elif c in "})]":
            depth -= 1
        elif depth == 0:
            yield i, c


def split_top(body: str) -> list[str]:
    """Split the inside of a composite literal at top-level commas."""
    items, start = [], 0
    for i, c in _top_level(body):
        if c == ",":
            items.append(body[start:i])
            start = i + 1
    items.append(body[start:])
    return [s.strip() for s in items if s.strip()]


def split_kv(item: str) -> tuple[str, str] | None:
    for i, c in _top_level(item):
        if c == ":":
            return item[:i].strip(), item[i + 1:].strip()
    return None


def literal_fields(value: str) -> dict[str, str]:
    """Fields of a struct literal `T{A: x, B: y}` or `{A: x}` (first brace to its match)."""
    b = value.find("{")
    if b < 0:
        return {}
    e = match_close(value, b)
    out = {}
    for it in split_top(value[b + 1:e]):
        kv = split_kv(it)
        if kv:
            out[kv[0]] = kv[1]
    return out


class Reader:
    def __init__(self, src: Source, path: str):
        self.src = src
        self.path = path
        self.pkg = {p: strip_comments(t) for p, t in src.package(path).items()}
        self.notes: list[str] = []
        self.top_keys: set[str] = set()  # every top-level attribute, for the drift check against the SDK

    def key(self, k: str) -> str | None:
        if k.startswith('"'):
            return k.strip('"')
        return self.src.consts.get(k)

    def find_func(self, name: str) -> str | None:
        for text in self.pkg.values():
            m = re.search(r"^func\s+" + re.escape(name) + r"\s*\([^)]*\)[^{]*\{", text, re.M)
            if m:
                return text[m.end() - 1: match_close(text, m.end() - 1) + 1]
        return None

    def find_var(self, name: str) -> str | None:
        for text in self.pkg.values():
            m = re.search(r"\b" + re.escape(name) + r"\s*=\s*(map\[string\]\*schema\.Schema|&schema\.Resource|"
                          r"&schema\.Schema)\{", text)
            if m:
                return text[m.start(1): match_close(text, m.end() - 1) + 1]
        return None

    def resolve(self, expr: str, want: str) -> str | None:
        """Text holding the first `want{` literal reachable from expr (inline, or via a package var/func)."""
        i = expr.find(want + "{")
        if i >= 0:
            return expr[i:]
        for ident in re.findall(r"\b([A-Za-z_]\w*)\b", expr):
            if ident in ("maps", "Clone", "func", "return", "map", "string", "schema", "Schema", "Resource"):
                continue
            body = self.find_var(ident) or self.find_func(ident)
            if body and body is not expr:
                got = self.resolve(body, want) if want + "{" in body or body != expr else None
                if got:
                    return got
        return None

    # ---- SDKv2

    def sdk_map(self, expr: str, prefix: tuple[str, ...], out: dict):
        text = self.resolve(expr, "map[string]*schema.Schema")
        if text is None:
            self.notes.append(f"could not resolve schema map for {'.'.join(prefix) or '<root>'}")
            return
        b = text.index("{")
        body = text[b + 1: match_close(text, b)]
        for it in split_top(body):
            kv = split_kv(it)
            if not kv:
                continue
            name = self.key(kv[0])
            if name is None:
                self.notes.append(f"unknown key {kv[0]}")
                continue
            if not prefix:
                self.top_keys.add(name)
            self.sdk_attr(kv[1], prefix + (name,), out)

    def sdk_attr(self, value: str, path: tuple[str, ...], out: dict):
        v = value.lstrip("&")
        if not (v.startswith("{") or v.startswith("schema.Schema{")):
            # A helper returning *schema.Schema: resolve it in the package; helpers of other packages
            # (tftags.TagsSchema(), ...) are not replace-forcing unless their name says so.
            m = re.match(r"(\w+)\(", v)
            body = self.find_func(m.group(1)) if m else None
            if body and "schema.Schema{" in body:
                v = body[body.index("schema.Schema{"):]
            else:
                if "ForceNew" in v:
                    out[path] = "forceNew (helper " + v.split("(")[0] + ")"
                return
        f = literal_fields(v)
        if f.get("ForceNew", "").strip() == "true":
            out[path] = "ForceNew"
        elem = f.get("Elem")
        if elem and ("schema.Resource" in elem or (re.match(r"\w+\(\)$", elem.strip()) and
                                                  "schema.Resource{" in (self.find_func(elem.strip()[:-2]) or ""))):
            res = self.resolve(elem, "schema.Resource")
            if res:
                rf = literal_fields(res)
                sch = rf.get("Schema") or rf.get("SchemaFunc")
                if sch:
                    self.sdk_map(sch, path, out)

    def sdk_resource(self, factory: str, out: dict):
        body = self.find_func(factory)
        res = self.resolve(body, "schema.Resource") if body else None
        if not res:
            raise SystemExit(f"{self.path}: no schema.Resource in {factory}")
        f = literal_fields(res)
        sch = f.get("Schema") or f.get("SchemaFunc")
        self.sdk_map(sch, (), out)
        # CustomizeDiff: d.ForceNew("x"), customdiff.ForceNewIf("x", ...), ForceNewIfChange("x", ...).
        for text in [self.pkg[self.path]]:
            for m in re.finditer(r"\.ForceNew\(\s*([\w.\"]+)\s*\)|ForceNewIf(?:Change)?\(\s*([\w.\"]+)", text):
                k = self.key(m.group(1) or m.group(2))
                if k:
                    # "compute_config.0.node_role_arn" -> ("compute_config", "node_role_arn")
                    out.setdefault(tuple(p for p in k.split(".") if not p.isdigit()), "conditional (CustomizeDiff " + m.group(0).split("(")[0].lstrip(".") + ")")

    # ---- Plugin Framework

    def fw_resource(self, out: dict):
        text = self.pkg[self.path]
        m = re.search(r"\)\s*Schema\(ctx context\.Context[^{]*\{", text)
        if not m:
            raise SystemExit(f"{self.path}: no Schema method")
        body = text[m.end() - 1: match_close(text, m.end() - 1) + 1]
        s = body[body.index("schema.Schema{"):]
        self.fw_object(s, (), out)

    def fw_object(self, s: str, prefix: tuple[str, ...], out: dict):
        f = literal_fields(s)
        for field in ("Attributes", "Blocks"):
            if field not in f:
                continue
            lit = f[field]
            b = lit.index("{")
            for it in split_top(lit[b + 1: match_close(lit, b)]):
                kv = split_kv(it)
                if not kv:
                    continue
                name = self.key(kv[0])
                if name is None:
                    continue
                if not prefix:
                    self.top_keys.add(name)
                af = literal_fields(kv[1])
                pm = af.get("PlanModifiers", "")
                if re.search(r"\bRequiresReplace\(\)", pm):
                    out[prefix + (name,)] = "RequiresReplace"
                elif "RequiresReplaceIf" in pm:
                    out[prefix + (name,)] = "conditional (RequiresReplaceIf)"
                nested = af.get("NestedObject")
                if nested:
                    self.fw_object(nested, prefix + (name,), out)


def locate(src: Source, tf_type: str) -> tuple[str, str, str]:
    """(path, kind, factory) of the resource annotated @SDKResource/@FrameworkResource(tf_type)."""
    pat = re.compile(r"//\s*@(SDK|Framework)Resource\(\"" + re.escape(tf_type) + r"\"[^\n]*\n(?:\s*//[^\n]*\n)*"
                     r"func\s+(\w+)")
    for path, text in sorted(src.files.items()):
        if "/service/" in path:
            m = pat.search(text)
            if m:
                return path, m.group(1), m.group(2)
    raise SystemExit(f"{tf_type}: no @SDKResource/@FrameworkResource annotation found")


def region_aware(src: Source, path: str, tf_type: str) -> bool:
    gen = src.files.get(path.rsplit("/", 1)[0] + "/service_package_gen.go", "")
    i = gen.find(f'TypeName: "{tf_type}"')
    if i < 0:
        return False
    j = gen.find("TypeName:", i + 10)
    return "ResourceRegionDefault()" in gen[i: j if j > 0 else len(gen)]


# ---------------------------------------------------------------- Pulumi names


def camel(s: str) -> str:
    head, *rest = s.split("_")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


class PulumiNames:
    """Terraform attribute -> Pulumi property, from the pulumi_aws Python SDK's @pulumi.getter names."""

    GETTER = re.compile(r"@pulumi\.getter(?:\(name=\"(\w+)\"\))?\s*\n\s*def (\w+)\(")

    def __init__(self, sdk: Path | None):
        self.sdk = sdk

    def _names(self, token: str) -> tuple[dict[str, str], dict[str, str]]:
        mod, res = token.split(":")[1].split("/")
        pyfile = re.sub(r"(?<!^)(?=[A-Z])", "_", res).lower() + ".py"
        top, nested = {}, {}
        cls = token.split(":")[2]
        text = (self.sdk / mod / pyfile).read_text()
        m = re.search(r"^class " + cls + r"Args:.*?(?=^class |\Z)", text, re.M | re.S)
        for g in self.GETTER.finditer(m.group(0) if m else ""):
            top[g.group(2)] = g.group(1) or g.group(2)
        inputs = (self.sdk / mod / "_inputs.py").read_text()
        for cm in re.finditer(r"^class " + cls + r"\w*Args:.*?(?=^class |\Z)", inputs, re.M | re.S):
            for g in self.GETTER.finditer(cm.group(0)):
                nested[g.group(2)] = g.group(1) or g.group(2)
        return top, nested

    def drift(self, token: str, tf_keys: set[str]) -> list[str]:
        """SDK inputs with no Terraform attribute at the commit read: the module is not the one the SDK was built
        from (or pulumi-aws adds the input itself)."""
        if self.sdk is None:
            return []
        top, _ = self._names(token)
        forms = {f for k in tf_keys for f in (k, k + "s", k + "es", k[:-1] + "ies")}
        return sorted(top[p] for p in top if p not in forms and p not in ("region", "tags_all"))

    def map(self, token: str, path: tuple[str, ...]) -> tuple[str, bool]:
        if self.sdk is None:
            return ".".join(camel(p) for p in path), False
        top, nested = self._names(token)
        out, ok = [], True
        for i, p in enumerate(path):
            table = top if i == 0 else nested
            cands = [p, p + "s", p + "es"] + ([p[:-1] + "ies"] if p.endswith("y") else [])
            hit = next((table[c] for c in cands if c in table), None)
            if hit is None:
                ok = False
                hit = camel(p)
            out.append(hit)
        return ".".join(out), ok


# ---------------------------------------------------------------- main


def facts(src: Source, commit: str, version: str, names: PulumiNames) -> dict:
    entries = {}
    for token, tf_type in AWS_TYPES.items():
        path, kind, factory = locate(src, tf_type)
        r = Reader(src, path)
        raw: dict[tuple[str, ...], str] = {}
        if kind == "SDK":
            r.sdk_resource(factory, raw)
        else:
            r.fw_resource(raw)
        if region_aware(src, path, tf_type):
            raw.setdefault(("region",), "conditional (provider region interceptor: forceNewIfRegionChanges)")
        for (t, out_attr), trig in TRIGGERS.items():
            if t == tf_type and (out_attr,) in raw:
                why = raw.pop((out_attr,))
                raw.setdefault((trig,), f"{why} on output {out_attr} when {trig} goes between empty and set")
        # A nested ForceNew under a ForceNew parent adds nothing: the parent already replaces.
        keep = {p: w for p, w in raw.items() if not any(p[:i] in raw for i in range(1, len(p)))}
        paths, notes, unmapped = [], [], []
        for p, why in sorted(keep.items()):
            name, ok = names.map(token, p)
            paths.append(name)
            if not ok:
                unmapped.append(".".join(p))
            if why.startswith("conditional"):
                notes.append(f"{name}: {why}")
        entry = {"replace_on": sorted(set(paths)),
                 "source": f"{REPO}@{commit}:{path}",
                 "terraform_type": tf_type,
                 "how": "SDKv2 ForceNew" if kind == "SDK" else "Plugin Framework RequiresReplace"}
        n = []
        if notes:
            n.append("included fail-closed, replace only under a condition: " + "; ".join(notes))
        if unmapped:
            n.append("no pulumi_aws SDK getter found, mechanical camelCase used for: " + ", ".join(unmapped))
        drift = names.drift(token, r.top_keys)
        if drift:
            n.append("pulumi_aws SDK inputs absent from this Terraform schema (module older or newer than the "
                     "SDK's upstream; their replace behaviour is not read here): " + ", ".join(drift))
        if r.notes:
            n.append("reader: " + "; ".join(sorted(set(r.notes))))
        if n:
            entry["note"] = " | ".join(n)
        entries[token] = entry
    return entries


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--module", required=True, type=Path, help="terraform-provider-aws module dir or zip")
    ap.add_argument("--zip", type=Path, help="the module zip (for its sha256) when --module is a directory")
    ap.add_argument("--commit", required=True, help="terraform-provider-aws commit (pulumi-aws upstream gitlink)")
    ap.add_argument("--version", default="", help="the Go pseudo-version downloaded")
    ap.add_argument("--pulumi-sdk", type=Path, help="the installed pulumi_aws package, for Pulumi property names")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "components/data/replace_on.json")
    ap.add_argument("--gitlink-verified", action="store_true",
                    help="--commit was read from pulumi-aws's `upstream` gitlink at the pinned tag")
    ap.add_argument("--check", action="store_true", help="exit 1 if the file differs from what the source says")
    a = ap.parse_args(argv)

    src = Source(a.module)
    sha = src.zip_sha256 or (hashlib.sha256(a.zip.read_bytes()).hexdigest() if a.zip else None)
    entries = facts(src, a.commit, a.version, PulumiNames(a.pulumi_sdk))
    doc = json.loads(a.out.read_text()) if a.out.exists() else {"sources": {}, "resources": {}}
    new = json.loads(json.dumps(doc))
    new["sources"]["terraform-provider-aws"] = {
        "repository": REPO, "commit": a.commit, "go_module": f"{MODULE}@{a.version}" if a.version else MODULE,
        "zip_sha256": sha, "commit_is_pulumi_aws_upstream_gitlink": a.gitlink_verified}
    if not a.gitlink_verified:
        new["sources"]["terraform-provider-aws"]["note"] = (
            "not checked against pulumi-aws's upstream gitlink; see UPSTREAM.md 'Replace-forcing inputs' and the "
            "'SDK inputs absent' notes, which show the module and the pulumi_aws SDK differ")
    for k in [k for k in new["resources"] if k.startswith("aws:")]:
        del new["resources"][k]
    new["resources"].update(entries)
    new["resources"] = dict(sorted(new["resources"].items()))
    text = json.dumps(new, indent=2, sort_keys=False) + "\n"
    if a.check:
        if a.out.read_text() != text:
            print(f"{a.out}: differs from the source's facts", file=sys.stderr)
            return 1
        return 0
    a.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

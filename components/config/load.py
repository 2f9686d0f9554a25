"""Loading a stack's config: the schema, then the cross-key checks, in one report."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Mapping, Optional

import yaml
from pydantic import ValidationError

from modelstack.config import checks as validation
from modelstack.config.schema import (
    CONFIG_KEY,
    NAMESPACE,
    REGION_KEY,
    REGIONS,
    ConfigError,
    ConfigIssue,
    Platform,
    PlatformConfig,
    _fmt_value,
    _issues_from_pydantic,
)


def load_platform(stack: str, values: Mapping[str, Any], source: str | None = None) -> Platform:
    """Validate a stack's config values (the `config:` mapping of its stack file, or `pulumi.Config` reads).

    Raises ConfigError with every problem found; registers nothing.
    """
    platform, issues = validate_platform(stack, values, source)
    if issues:
        raise ConfigError(stack, issues, source)
    assert platform is not None
    return platform


#: Stand-ins for top-level keys that failed validation, so the checks that come after (capacity) still run.
_STAND_INS: dict[str, Any] = {"environment": "invalid", "team": "invalid", "tags": {}, "cluster": {"name": "invalid"}}


def _names_with_issues(issues: list[ConfigIssue], section: str) -> set[str]:
    """The entries of `section` (node_groups, models) that an issue's path points into."""
    head = f"{CONFIG_KEY}.{section}."
    return {i.path[len(head):].split(".")[0].split("[")[0] for i in issues if i.path.startswith(head)}


def _valid_part(raw: Mapping[str, Any], issues: list[ConfigIssue]) -> Optional[PlatformConfig]:
    """The part of a rejected config that has no problem of its own: the node groups without an issue whose models
    all have none, those models, and stand-ins for broken top-level keys. None when nothing is left to check."""
    groups: Mapping[str, Any] = raw["node_groups"] if isinstance(raw.get("node_groups"), Mapping) else {}
    models: Mapping[str, Any] = raw["models"] if isinstance(raw.get("models"), Mapping) else {}
    bad_groups, bad_models = _names_with_issues(issues, "node_groups"), _names_with_issues(issues, "models")
    for m, body in models.items():
        if m in bad_models and isinstance(body, Mapping) and isinstance(body.get("node_group"), str):
            bad_groups.add(body["node_group"])
    keep_models = {m: b for m, b in models.items() if m not in bad_models and isinstance(b, Mapping)
                   and b.get("node_group") in groups and b.get("node_group") not in bad_groups}
    keep_groups = {g: b for g, b in groups.items() if g not in bad_groups}
    if not keep_groups:
        return None
    broken_top = {i.path[len(CONFIG_KEY) + 1:].split(".")[0].split("[")[0] for i in issues if i.path.startswith(f"{CONFIG_KEY}.")}
    reduced = {k: v for k, v in raw.items() if k in PlatformConfig.model_fields and k not in broken_top}
    reduced.update({k: v for k, v in _STAND_INS.items() if k in broken_top})
    reduced.update(node_groups=keep_groups, models=keep_models, traffic_splits={})
    try:
        return PlatformConfig.model_validate(reduced)
    except (ValidationError, TypeError, ValueError):
        return None


def validate_platform(stack: str, values: Mapping[str, Any],
                      source: str | None = None) -> tuple[Optional[Platform], list[ConfigIssue]]:
    """Every problem of a stack's config, and the platform to run later checks on: the whole one when there is no
    problem, else the valid part (`_valid_part`; None when nothing is left or the region is unknown)."""
    issues: list[ConfigIssue] = []
    region = values.get(REGION_KEY)
    if region not in REGIONS:
        issues.append(ConfigIssue(path=REGION_KEY, given=_fmt_value(region) if region is not None else "nothing",
                                  allowed=f"an AWS region where EKS runs: one of {', '.join(REGIONS)}"))
    unknown = sorted((k for k in values if not isinstance(k, str) or (k.startswith(f"{NAMESPACE}:") and k != CONFIG_KEY)), key=str)
    for k in unknown:
        issues.append(ConfigIssue(path=str(k), given=f"unknown key {k!r}", allowed=f"only {CONFIG_KEY} in the {NAMESPACE} namespace"))
    raw = values.get(CONFIG_KEY)
    cfg: Optional[PlatformConfig] = None
    if raw is None:
        issues.append(ConfigIssue(path=CONFIG_KEY, given="nothing", allowed="a mapping with environment, team, cluster, node_groups, models"))
    elif not isinstance(raw, Mapping):
        issues.append(ConfigIssue(path=CONFIG_KEY, given=_fmt_value(raw), allowed="a mapping with environment, team, cluster, node_groups, models"))
    else:
        try:
            cfg = PlatformConfig.model_validate(raw)
        except ValidationError as e:
            issues.extend(_issues_from_pydantic(e, raw))
        issues.extend(validation.semantic_issues(raw, cfg))
    if not issues:
        assert cfg is not None
        return Platform(stack=stack, region=str(region), config=cfg, source=source,
                        warnings=tuple(validation.semantic_warnings(cfg))), []
    partial = _valid_part(raw, issues) if isinstance(raw, Mapping) and region in REGIONS else None
    platform = Platform(stack=stack, region=str(region), config=partial, source=source) if partial else None
    return platform, issues


#: Bounds on a stack file, far above any honest one (the shipped stacks: under 5,000 characters, under 400 YAML
#: nodes, 8 levels deep) and low enough that reading one takes about a second at worst. Aliases count as what they
#: stand for: nine anchors of nine aliases each (a "billion laughs" document of a few hundred bytes) expand to 9^9
#: nodes, which every later step (validation, the plan, JSON) would walk.
MAX_FILE_CHARS = 512 * 1024
MAX_DEPTH = 32
MAX_NODES = 100_000


class _Refused(Exception):
    """A stack file the loader will not read past: where, what was found, what is allowed."""

    def __init__(self, mark: Optional[yaml.Mark], given: str, allowed: str):
        super().__init__(given)
        self.mark, self.given, self.allowed = mark, given, allowed


_BOOL, _INT, _FLOAT = (f"tag:yaml.org,2002:{t}" for t in ("bool", "int", "float"))


class _StackLoader(yaml.SafeLoader):
    """PyYAML's safe loader, reading plain scalars as Pulumi reads a stack file, and bounded.

    Pulumi (sdk/go/common/encoding/marshal.go at v3.259.0) decodes stack files with gopkg.in/yaml.v3 v3.0.1 into
    untyped values, whose resolve.go follows YAML 1.2: only true/false (True, TRUE, ...) are booleans, `yes`, `no`,
    `on`, `off` stay strings, `1:30` (base 60) is a string, `1e3` is a number, `0o17` an octal integer. PyYAML
    follows YAML 1.1 (`spot: yes` would be true here and the string "yes" under `pulumi up`), so those three
    resolvers are replaced; null, timestamps and merge keys are the same in both.

    It also stops nesting at MAX_DEPTH while it composes (its composer recurses once per level, so a few thousand
    '[' would end in RecursionError) and reports dates that do not exist (2025-13-45) instead of a traceback."""

    yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag not in (_BOOL, _INT, _FLOAT, "tag:yaml.org,2002:value")]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}

    def __init__(self, text: str):
        super().__init__(text)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self._depth >= MAX_DEPTH:
            # types-PyYAML leaves Parser.peek_event unannotated (it returns the next Event).
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise _Refused(event.start_mark, f"mappings and lists nested deeper than {MAX_DEPTH} levels",
                           f"a stack file nested at most {MAX_DEPTH} levels deep (the schema needs about 10)")
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_yaml_int(self, node: yaml.ScalarNode) -> Any:
        """As yaml.v3 resolves an integer: 64 bits (signed, or unsigned), else a float if it reads as one, else the
        text (0x, 0o, 0b prefixes; 0755 octal; 089 the float 89)."""
        text = node.value.replace("_", "")
        body = text.lstrip("+-")
        octal = len(body) > 1 and body[0] == "0" and body[1].isdigit()
        if body[:2].lower() in ("0x", "0o", "0b") or (octal and not set(body) & {"8", "9"}):
            value = int(text, 8) if octal else int(text, 0)
            return value if -2 ** 63 <= value < 2 ** 64 else node.value
        if not octal and len(body) <= 20 and -2 ** 63 <= int(text) < 2 ** 64:
            return int(text)
        return self.construct_yaml_float(node)

    def construct_yaml_float(self, node: yaml.ScalarNode) -> Any:
        """A float; beyond float range the text, as yaml.v3 (strconv.ParseFloat fails with ErrRange)."""
        text = node.value.replace("_", "")
        if text.lower().lstrip("+-") in (".inf", ".nan"):
            return super().construct_yaml_float(node)
        value = float(text)
        return node.value if math.isinf(value) else value

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError:
            raise _Refused(node.start_mark, f"{node.value!r}, a date that does not exist",
                           "a date that exists, or quote it as a string") from None


_StackLoader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_StackLoader.add_implicit_resolver(
    _INT, re.compile(r"^[-+]?(?:0[bB][01_]+|0[oO][0-7_]+|0[xX][0-9a-fA-F_]+|[0-9][0-9_]*)$"), list("-+0123456789"))
_StackLoader.add_implicit_resolver(
    _FLOAT, re.compile(r"^(?:[-+]?(?:\.[0-9_]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?"
                       r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"), list("-+.0123456789"))
_StackLoader.add_constructor(_INT, _StackLoader.construct_yaml_int)
_StackLoader.add_constructor(_FLOAT, _StackLoader.construct_yaml_float)
_StackLoader.add_constructor("tag:yaml.org,2002:timestamp", _StackLoader.construct_yaml_timestamp)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for kv in node.value for n in kv]
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def _expanded_size(root: yaml.Node) -> None:
    """Refuses a node graph that contains itself (an alias inside its own anchor), or that has more than MAX_NODES
    nodes or MAX_DEPTH levels once aliases are expanded. Each node is visited once (sizes are memoized by node), so
    this takes time in proportion to the text, not to what the aliases stand for."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            kids = _children(node)
            size[key] = min(MAX_NODES + 1, 1 + sum(size[id(k)] for k in kids))
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
            continue
        if key in size:
            continue
        on_path.add(key)
        stack.append((node, True))
        for k in _children(node):
            if id(k) in on_path:
                raise _Refused(k.start_mark, "an alias inside the node it refers to (a value that contains itself)",
                               "aliases of nodes written before and outside them")
            if id(k) not in size:
                stack.append((k, False))
    if size[id(root)] > MAX_NODES:
        raise _Refused(None, f"more than {MAX_NODES:,} values once its aliases are expanded",
                       f"a stack file of at most {MAX_NODES:,} values (mappings, lists and scalars), aliases counted as "
                       "what they stand for")
    if depth[id(root)] > MAX_DEPTH:
        raise _Refused(None, f"aliases that nest values deeper than {MAX_DEPTH} levels",
                       f"a stack file nested at most {MAX_DEPTH} levels deep (the schema needs about 10)")


def _duplicate_keys(root: yaml.Node, source: str) -> list[ConfigIssue]:
    """Keys written twice in one mapping, each with the lines of both (YAML loaders keep the last silently). A node
    reached again through an alias is not walked again: its keys are in the text once."""
    out: list[ConfigIssue] = []
    seen_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, str]] = [(root, "")]
    while stack:
        node, path = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        later: list[tuple[yaml.Node, str]] = []
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, yaml.Node] = {}
            for k, v in node.value:
                key = k.value if isinstance(k, yaml.ScalarNode) else None
                child = f"{path}.{key}" if path and path != "config" else str(key)
                if key is not None and key in seen:
                    first = seen[key].start_mark.line + 1
                    out.append(ConfigIssue(path=f"{source}:{k.start_mark.line + 1}:{k.start_mark.column + 1}",
                                           given=f"key {child!r} again (first on line {first})",
                                           allowed="each key once in a mapping: YAML would keep only the last one"))
                elif key is not None:
                    seen[key] = k
                later.append((v, child))
        elif isinstance(node, yaml.SequenceNode):
            later = [(v, f"{path}[{i}]") for i, v in enumerate(node.value)]
        stack.extend(reversed(later))  # depth first in document order: a node is named by its first path
    return sorted(out, key=lambda i: [int(n) for n in i.path.rsplit(":", 2)[1:]])  # in the order of the text


def _what(doc: Any) -> str:
    """A stack file's top-level value, in words."""
    if doc is None:
        return "an empty document"
    if isinstance(doc, Mapping):
        return "a mapping without a `config:` key" + (f" (its keys: {', '.join(sorted(map(str, doc))[:8])})" if doc else "")
    return _fmt_value(doc)


def _too_large(source: str) -> ConfigIssue:
    return ConfigIssue(path=source, given=f"a file of more than {MAX_FILE_CHARS:,} characters",
                       allowed=f"a stack file of at most {MAX_FILE_CHARS:,} characters ({MAX_FILE_CHARS // 1024} KiB)")


def read_stack_path(path: Path, stack: str) -> dict[str, Any]:
    """`read_stack_file` of the file at `path`; ConfigError for a file that cannot be read, is larger than
    MAX_FILE_CHARS or is not UTF-8 (as Pulumi reads stack files)."""
    source = str(path)
    try:
        with open(path, "rb") as f:
            data = f.read(4 * MAX_FILE_CHARS + 1)
    except OSError as e:
        raise ConfigError(stack, [ConfigIssue(path=source, given=f"a file that cannot be read ({e.strerror or e})",
                                              allowed="a readable stack file")], source) from None
    if len(data) > 4 * MAX_FILE_CHARS:  # more bytes than MAX_FILE_CHARS characters of UTF-8 can take
        raise ConfigError(stack, [_too_large(source)], source)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise ConfigError(stack, [ConfigIssue(path=f"{source}:{line}:{column}", given=f"a byte that is not UTF-8 ({data[e.start]:#04x})",
                                              allowed="a stack file in UTF-8")], source) from None
    return read_stack_file(text, stack, source)


def read_stack_file(text: str, stack: str, source: str) -> dict[str, Any]:
    """The `config:` mapping of a stack file. Raises ConfigError for text that is not YAML (with its line and
    column), for keys written twice (with both lines), for a file beyond the bounds above and for a file without a
    `config:` mapping."""
    def refuse(where: str, given: str, allowed: str) -> ConfigError:
        return ConfigError(stack, [ConfigIssue(path=where, given=given, allowed=allowed)], source)

    if len(text) > MAX_FILE_CHARS:
        raise ConfigError(stack, [_too_large(source)], source)
    try:
        loader = _StackLoader(text)  # the reader refuses control characters here
        try:
            node = loader.get_single_node()
            if node is not None:
                _expanded_size(node)
                dups = _duplicate_keys(node, source)
                if dups:
                    raise ConfigError(stack, dups, source)
            doc = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except _Refused as e:
        where = f"{source}:{e.mark.line + 1}:{e.mark.column + 1}" if e.mark else source
        raise refuse(where, e.given, e.allowed) from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        what = e.problem or "unreadable text"
        if e.context and e.context_mark:
            what = f"{e.context} started on line {e.context_mark.line + 1}, column {e.context_mark.column + 1}: {what}"
        raise refuse(where, f"text that is not valid YAML ({what})", "a YAML stack file") from None
    except yaml.reader.ReaderError as e:
        line = text.count("\n", 0, e.position) + 1
        column = e.position - (text.rfind("\n", 0, e.position) + 1) + 1
        what = f"the control character U+{e.character:04X}" if isinstance(e.character, int) else "a character YAML refuses"
        raise refuse(f"{source}:{line}:{column}", what, "a YAML stack file: printable characters, tabs and line breaks") from None
    except yaml.YAMLError as e:
        raise refuse(source, "text that is not valid YAML", f"a YAML stack file ({str(e).splitlines()[0]})") from None
    if not isinstance(doc, dict) or "config" not in doc:
        raise refuse(source, _what(doc), "a stack file: a mapping with a `config:` mapping of keys to values "
                     "(aws:region, modelstack:platform)")
    values = doc["config"]
    if not isinstance(values, dict):
        raise refuse("config", "nothing" if values is None else _fmt_value(values), "a `config:` mapping of keys to values")
    return values


def stack_config_dir(project: Path, meta: Optional[Mapping[str, Any]] = None) -> Path:
    """The folder of a project's stack files: Pulumi.yaml's `stackConfigDir` (default: the project folder).
    `meta`: Pulumi.yaml already read; otherwise it is read here (a missing or unreadable one means the default)."""
    if meta is None:
        try:
            meta = yaml.safe_load((project / "Pulumi.yaml").read_text()) or {}
        except (OSError, yaml.YAMLError):
            meta = {}
    return project / str((meta if isinstance(meta, Mapping) else {}).get("stackConfigDir") or ".")

"""`modelstack plan STACK`: the offline plan of a stack; `modelstack plan --program DIR`: of your own program.

Runs the same program `pulumi up` runs (stacks/__main__.py -> modelstack.program.main) under Pulumi's
in-process mocks, with the stack's config file, then prints what it would create, where each model runs,
what it costs and which guardrails it breaks. With `--program DIR`, the program is any Pulumi Python program
(DIR/Pulumi.yaml and its __main__.py) that composes modelstack components, with its own stack file
(modelstack.plan.composed). Exit codes: 0 planned, 1 a mandatory policy violation, 2 bad input (config errors,
unknown stack, a program that cannot run).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any, Optional, Sequence


from modelstack.config import schema as cfg
from modelstack.config.load import read_stack_path, stack_config_dir
from modelstack.capacity import cost as cost_mod, pricing
from modelstack.planner import recorded as rec_mod
from modelstack.planner.capacity import CapacityPlan, plan_platform
from modelstack.planner import llm as llm_plan
from modelstack.planner.karpenter import plan_karpenter
from modelstack.plan import report
from modelstack.render import table as text_table
from modelstack.plan import composed
from modelstack.plan.runner import ProgramRun, config_strings, fewer_collections, run_program
from modelstack.ops import batch_cli
from modelstack.ops import cli as ops_cli
from modelstack.policies.engine import PolicyConfigError


class UsageError(Exception):
    pass


def version() -> str:
    """The installed distribution's version (pyproject.toml's `version`)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("modelstack")
    except PackageNotFoundError:
        return "unknown (not installed)"


def find_project(start: Path) -> Path:
    for d in [start, *start.parents]:
        if (d / "Pulumi.yaml").is_file():
            return d
    raise UsageError(f"no Pulumi.yaml in {start} or any parent folder; run from the project or pass --project-dir")


def stack_file(project: Path, stack: str) -> Path:
    folder = stack_config_dir(project)
    path = folder / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        known = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in folder.glob("Pulumi.*.yaml"))
        raise UsageError(f"stack '{stack}': no config file {path}; stacks here: {', '.join(known) or 'none'}")
    return path


def _stack_exists(project: Path, stack: str) -> bool:
    try:
        stack_file(project, stack)
    except UsageError:
        return False
    return True


def read_stack_values(path: Path, stack: str) -> dict[str, Any]:
    """The `config:` mapping of a stack file; ConfigError (with file, line and column) when it cannot be read."""
    return read_stack_path(path, stack)


def policy_config_path(project: Path, stack: str, environment: Optional[str] = None) -> Optional[Path]:
    """The stack's policy config: `policies/config.<stack>.json`, else `policies/config.<environment>.json`."""
    for name in dict.fromkeys(n for n in (stack, environment) if n):
        path = project / "policies" / f"config.{name}.json"
        if path.is_file():
            return path
    return None


def policy_config(project: Path, stack: str, environment: Optional[str] = None) -> Optional[dict[str, Any]]:
    """The stack's policy config file, checked (PolicyConfigError names the file, each key, value and what is
    allowed); None when it has none (the rules' defaults)."""
    from modelstack.policies.engine import PolicyConfig, read_config_file

    path = policy_config_path(project, stack, environment)
    if path is None:
        return None
    shown = path.relative_to(project).as_posix() if path.is_relative_to(project) else str(path)
    data = read_config_file(path, shown)
    PolicyConfig.from_mapping(data, shown)
    return dict(data)


def environment_notes(environment: Optional[str]) -> list[str]:
    """What the plan says about an environment that is not a documented tier (render.tiers)."""
    from modelstack.render import tiers

    note = tiers.note(environment, f"policies/config.{environment}.json")
    return [note] if note else []


def read_recorded(stack_path: Path, stack: str, project: Optional[Path] = None) -> Optional[rec_mod.Recorded]:
    """The stack's recorded capacity choices (beside its stack file), None when it has none; UsageError when the
    file cannot be followed. Named relative to `project` when it lies inside."""
    try:
        return rec_mod.read(stack_path.parent, stack, project)
    except rec_mod.RecordError as e:
        raise UsageError(str(e)) from None


def plan(stack: str, values: dict[str, Any], source: str, project: Optional[Path] = None, today: Optional[date] = None,
         recorded: Optional[rec_mod.Recorded] = None, rechoose: Optional[frozenset[str]] = None) -> dict[str, Any]:
    """Validate, size, run the program under mocks, estimate cost, check policies. Returns the plan document
    plus the objects the CLI prints (under keys prefixed with `_`). Raises ConfigError for bad input.
    `recorded`: the stack's recorded capacity choices, which the plan keeps while they serve."""
    with fewer_collections():
        return _plan(stack, values, source, project, today, recorded, rechoose)


def _record_json(capacity: CapacityPlan, recorded: Optional[rec_mod.Recorded]) -> dict[str, Any]:
    return {"path": recorded.path if recorded else None, "followed": list(capacity.followed),
            "rechosen": dict(capacity.rechosen), "unrecorded": list(capacity.unrecorded),
            "savings": {g: {"instance_types": list(t), "usd_per_month": round(v * pricing.HOURS_PER_MONTH, 2)}
                        for g, (t, v) in capacity.savings.items()},
            "choices": {n: {"capacity_type": g.capacity_type, "instance_types": list(g.instance_types)}
                        for n, g in capacity.record.items()}}


def _record_lines(stack: str, capacity: CapacityPlan, recorded: Optional[rec_mod.Recorded]) -> list[str]:
    if not capacity.record:
        return []
    if recorded is None:
        return [f"capacity choices: not recorded; instance types are chosen afresh on every plan, so a change in demand "
                f"can replace a node group. Record them: `modelstack capacity record {stack}` (commit the file)"]
    out = [f"capacity choices: {recorded.path}" + (f" (recorded {recorded.recorded_on})" if recorded.recorded_on else "")
           + (f"; kept for {', '.join(capacity.followed)}" if capacity.followed else "")]
    if capacity.unrecorded:
        out.append(f"  not recorded yet (chosen afresh): {', '.join(capacity.unrecorded)}; "
                   f"`modelstack capacity record {stack}` adds them")
    return out


def _plan(stack: str, values: dict[str, Any], source: str, project: Optional[Path], today: Optional[date],
          recorded: Optional[rec_mod.Recorded] = None, rechoose: Optional[frozenset[str]] = None) -> dict[str, Any]:
    from modelstack import program
    from modelstack.policies.engine import evaluate

    platform, capacity = plan_platform(stack, values, source, today, project, recorded, rechoose)
    env = platform.config.environment
    policies = policy_config(project, stack, env) if project else None  # before the run: a bad file stops the plan
    inputs = capacity.cost_inputs
    kplan = None
    if platform.config.cluster.provisioner == "karpenter":  # price what Karpenter would buy at min and at max
        kplan = plan_karpenter(platform, capacity)
        inputs = kplan.cost_inputs
    estimate = cost_mod.estimate(inputs)
    # The program gets this plan instead of making it again, when it reads the config the mocks are handed.
    planned = program.Planned(stack, program.config_values(config_strings(values)), platform, capacity, kplan)
    run = run_program(lambda: program.main(planned), stack, values, region=platform.region)
    violations = evaluate([r.to_json() for r in run.resources], policies, env)
    reasons = {g.name: {"instance_types": list(g.instance_types), "reason": g.reason, "explicit": g.explicit,
                        "designed": g.designed, "models": list(g.models), "notes": list(g.notes)}
               for g in capacity.groups}
    doc = report.plan_json(stack, run.resources, estimate.to_json(), violations, reasons, platform.warnings)
    doc["notes"] = environment_notes(env) + list(capacity.notes)
    doc["capacity_record"] = _record_json(capacity, recorded)
    # The expander priority is the NodeGroup component's, not an EKS input: taken from the capacity plan.
    priority = {platform.config.cluster.node_group_name(g.name): g.priority for g in capacity.groups}
    for g in doc["node_groups"]:
        g["priority"] = priority.get(g["name"])
    notes: dict[str, Any] = {g.name: g.notes for g in capacity.groups if g.notes}
    if environment_notes(env):
        notes["environment"] = environment_notes(env)
    if capacity.notes:
        notes["cluster"] = capacity.notes
    designed = {g.name: g.reason for g in capacity.groups if g.designed and g.models or g.designed and g.kind == "system"}
    doc["_summary"] = report.summary(stack, run.resources, estimate.render_table(), violations, notes, platform.warnings,
                                     designed, _record_lines(stack, capacity, recorded),
                                     llm_lines=llm_plan.table(capacity.llms))
    if capacity.llms:
        doc["llms"] = {n: p.row() for n, p in capacity.llms.items()}
    doc["_run"] = run
    return doc


def plan_program(directory: str, stack: Optional[str] = None, config_file: Optional[str] = None,
                 overrides: Sequence[str] = (), policy_file: Optional[str] = None, environment: Optional[str] = None,
                 today: Optional[date] = None, stack_outputs: Sequence[str] = ()) -> dict[str, Any]:
    """The offline plan of your own program (`--program DIR`): run it under the mocks with its stack's config, check
    the same policies, price what it registered. The same document as :func:`plan` (`plan.json`), so `modelstack
    diff` reads two of them. Raises composed.ProgramError and ConfigError for bad input."""
    with fewer_collections():
        project = composed.load_project(directory)
        stack, path = composed.stack_file(project, stack, config_file)
        config = composed.read_config(project, stack, path, overrides, stack_outputs)
        policies = _policy_file(project.dir, stack, policy_file)
        run = composed.run(project, stack, config)
        return _program_doc(project, stack, config, run, policies, environment, today)


def _policy_file(project: Path, stack: str, policy_file: Optional[str]) -> Optional[dict[str, Any]]:
    """`--policy-config FILE`, else the program's own `policies/config.<stack>.json`, else the rules' defaults."""
    path = Path(policy_file) if policy_file else project / "policies" / f"config.{stack}.json"
    if not path.is_file():
        if policy_file:
            raise composed.ProgramError(f"--policy-config {policy_file}: no such file")
        return None
    from modelstack.policies.engine import PolicyConfig, PolicyConfigError, read_config_file

    try:
        data = read_config_file(path)
        PolicyConfig.from_mapping(data, str(path))
    except PolicyConfigError as e:
        raise composed.ProgramError(str(e)) from None
    return dict(data)


def _program_doc(project: composed.Project, stack: str, config: composed.StackConfig, run: ProgramRun, policies: Optional[dict[str, Any]],
                 environment: Optional[str], today: Optional[date]) -> dict[str, Any]:
    from modelstack.policies.engine import evaluate

    violations = evaluate(run.resources, policies, environment)
    priced = composed.cost_inputs(run.resources, config.region, today)
    estimate = None
    cost_notes = list(priced.notes)
    if priced.inputs is not None:
        try:
            estimate = cost_mod.estimate(priced.inputs)
        except pricing.PricingError as e:
            cost_notes.append(f"not priced: {e}")
    notes = environment_notes(environment) + cost_notes + [f"stack reference {m}: no outputs given offline, the program read none (--stack-outputs "
                          f"{m}=FILE)" for m in composed.missing_references(config)] + [f"config {k} is `secure:` in the stack file: the program read {composed.SECRET_PLACEHOLDER!r} "
              f"(give a value with --set {k}=VALUE)" for k in config.placeholders]
    if estimate is not None:
        cost_text = estimate.render_table()
    else:
        cost_text = text_table.paragraph(
            "none: nothing this program registers is priced (no cluster, node group, node pool, NAT gateway, "
            "load balancer or KMS key of its own)")
    if cost_notes:
        cost_text += "\n" + "\n".join(text_table.paragraph(n, "  ") for n in cost_notes)
    main = project.main.relative_to(project.dir).as_posix() if project.main.is_relative_to(project.dir) else project.main.name
    banner = report.PROGRAM_BANNER.format(main=main, project=project.name)
    doc = report.plan_json(stack, run.resources, estimate.to_json() if estimate else None, violations, banner=banner)
    doc["program"] = {"project": project.name, "main": main}
    doc["notes"] = notes
    shown: dict[str, Any] = {"environment": environment_notes(environment)} if environment_notes(environment) else {}
    if config.placeholders:
        shown["secure config"] = [f"{k}: read as {composed.SECRET_PLACEHOLDER!r} (--set {k}=VALUE to give one)"
                                  for k in config.placeholders]
    doc["_summary"] = report.summary(stack, run.resources, cost_text, violations, shown or None, banner=banner)
    doc["_run"] = run
    return doc


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="modelstack", description="Models as autoscaling APIs on AWS EKS, with Pulumi.")
    ap.add_argument("--version", action="version", version=f"modelstack {version()}")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("plan", help="offline plan of a stack (Pulumi mocks; nothing is sent to the cloud)")
    p.add_argument("stack", nargs="?", help="stack name: its config is <stackConfigDir>/Pulumi.<stack>.yaml")
    p.add_argument("--stack", dest="stack_option", metavar="NAME", help="the stack name (same as the positional)")
    p.add_argument("--program", metavar="DIR",
                   help="plan your own Pulumi Python program (DIR/Pulumi.yaml, DIR/__main__.py) instead of modelstack's "
                        "stack program; its config comes from DIR's Pulumi.<stack>.yaml or --config")
    p.add_argument("--config", metavar="FILE", help="with --program: the stack file whose `config:` the program reads")
    p.add_argument("--set", dest="set_values", action="append", default=[], metavar="KEY=VALUE",
                   help="with --program: a config value over the stack file's (e.g. a `secure:` one); repeatable")
    p.add_argument("--stack-outputs", action="append", default=[], metavar="STACK=FILE",
                   help="with --program: what pulumi.StackReference(STACK) reads, FILE as `pulumi stack output --json` "
                        "prints it; repeatable")
    p.add_argument("--policy-config", metavar="FILE",
                   help="with --program: the policy pack config (default DIR/policies/config.<stack>.json, else the "
                        "rules' defaults)")
    p.add_argument("--environment", metavar="ENV",
                   help="with --program: the environment the policies check (default: each resource's own "
                        "`environment` tag or label)")
    p.add_argument("--json", metavar="FILE", help="write plan.json here ('-': to stdout, the summary then to stderr)")
    p.add_argument("--out", metavar="DIR", help="write every Kubernetes object as YAML (one file per component) and plan.json")
    p.add_argument("--project-dir", metavar="DIR", help="folder with Pulumi.yaml (default: found from the current folder)")
    p.add_argument("--stack-file", metavar="FILE", help="use this stack config file instead of the project's")
    p.add_argument("--as-of", metavar="YYYY-MM-DD", type=date.fromisoformat,
                   help="price the plan as on this day (EKS extended support starts on a date); default today")
    d = sub.add_parser("diff", help="what a change does, from two plan.json files (offline)")
    d.add_argument("old", help="plan.json before the change")
    d.add_argument("new", help="plan.json after the change")
    d.add_argument("--json", metavar="FILE", help="write the diff as JSON here ('-': to stdout, the text then to stderr)")
    d.add_argument("--fail-on-replace", action="store_true",
                   help="exit 1 when a resource would be replaced or deleted, or may be (a type with no replace facts)")
    c = sub.add_parser("capacity", help="the stack's recorded capacity choices (stacks/capacity/<stack>.yaml)")
    csub = c.add_subparsers(dest="action", required=True)
    for action, text in (("record", "write the choices the plan makes or keeps (new groups added, kept ones kept)"),
                         ("rechoose", "choose instance types afresh (all groups, or --group), show the saving and what "
                                      "it replaces, and record them"),
                         ("check", "exit 1 when the record is missing or stale (for the pull-request workflow)")):
        a = csub.add_parser(action, help=text)
        a.add_argument("stack")
        a.add_argument("--project-dir", metavar="DIR", help="folder with Pulumi.yaml (default: found from the current folder)")
        if action == "rechoose":
            a.add_argument("--group", action="append", default=[], help="a node group to re-choose (repeatable)")
    pr = sub.add_parser("prices", help="region price files the plan uses (see README, Prices per region)")
    prs = pr.add_subparsers(dest="prices_command", required=True)
    rf = prs.add_parser("refresh", help="fetch a region's on-demand and spot prices and offered instance types from "
                                        "AWS (the caller's credentials) and write the dated file the plan reads")
    rf.add_argument("--region", required=True, help="an AWS region where EKS runs, e.g. eu-central-1")
    rf.add_argument("--out", metavar="FILE", help="write here (default: prices/<region>.json in the project folder; "
                                                  "a stack names another file with prices_file)")
    rf.add_argument("--project-dir", metavar="DIR", help="folder with Pulumi.yaml (default: found from the current folder)")
    ops_cli.add_parsers(sub)
    batch_cli.add_parsers(sub)
    args = ap.parse_args(argv)
    if args.command == "diff":
        return _diff(args)
    if args.command == "capacity":
        return _capacity(args)
    if args.command == "prices":
        return _prices_refresh(args)
    if args.command in ops_cli.COMMANDS:
        return ops_cli.run(args, find_project, _stack_exists)
    if args.command == batch_cli.COMMAND:
        return batch_cli.run(args, find_project, ops_cli.selected_stack)

    if args.stack and args.stack_option and args.stack != args.stack_option:
        ap.error(f"two stack names: {args.stack} and --stack {args.stack_option}")
    stack_name = args.stack or args.stack_option
    program_only = [f for f, v in (("--config", args.config), ("--set", args.set_values),
                                   ("--stack-outputs", args.stack_outputs),
                                   ("--policy-config", args.policy_config), ("--environment", args.environment)) if v]
    if args.program is None and program_only:
        ap.error(f"{', '.join(program_only)}: only with --program DIR (a stack's own file: --stack-file)")
    if args.program is not None and (args.project_dir or args.stack_file):
        ap.error("--program DIR is the project: use --config FILE for its stack file, not --project-dir/--stack-file")
    if args.program is None and not stack_name:
        ap.error("a stack name is needed (or --program DIR for a program of your own)")
    values: dict[str, Any] = {}
    try:
        if args.program is not None:
            doc = plan_program(args.program, stack_name, args.config, args.set_values, args.policy_config,
                               args.environment, today=args.as_of, stack_outputs=args.stack_outputs)
        else:
            project = Path(args.project_dir).resolve() if args.project_dir else find_project(Path.cwd())
            path = Path(args.stack_file) if args.stack_file else stack_file(project, stack_name)
            values = read_stack_values(path, stack_name)
            recorded = read_recorded(path, stack_name, project)
            doc = plan(stack_name, values, str(path), project, today=args.as_of, recorded=recorded)
    except cfg.ConfigError as e:
        print(e.render(), file=sys.stderr)
        if args.program is None and cfg.CONFIG_KEY not in values:
            print(f"(no {cfg.CONFIG_KEY} here: to plan a Pulumi program of your own that uses modelstack components, "
                  "pass --program DIR)", file=sys.stderr)
        print("nothing was planned: fix the configuration above.", file=sys.stderr)
        return 2
    except UsageError as e:
        print(f"modelstack: {e}", file=sys.stderr)
        return 2
    except composed.ProgramError as e:
        print(f"modelstack: {e}", file=sys.stderr)
        print("nothing was planned.", file=sys.stderr)
        return 2
    except PolicyConfigError as e:
        print(f"modelstack: {e}", file=sys.stderr)
        print("nothing was planned: fix the policy config above (`python -m modelstack.policies.engine schema` "
              "prints what it accepts).", file=sys.stderr)
        return 2
    run = doc.pop("_run")
    # With --json -, stdout carries the JSON alone (for jq and the like); everything for people goes to stderr.
    human = sys.stderr if args.json == "-" else sys.stdout
    print(doc.pop("_summary"), file=human)
    if args.out:
        out = Path(args.out)
        written = report.write_manifests(run.resources, out)
        report.dump_json(doc, out / "plan.json")
        print(f"\nwrote {len(written)} manifest file(s) and plan.json to {out}", file=human)
    if args.json == "-":
        sys.stdout.write(report.json_text(doc))
    elif args.json:
        report.dump_json(doc, Path(args.json))
        print(f"wrote {args.json}")
    if doc["policy"]["mandatory"]:
        print(f"\n{doc['policy']['mandatory']} mandatory policy violation(s): the plan is rejected.", file=sys.stderr)
        return 1
    return 0


def _capacity(args: argparse.Namespace) -> int:
    """modelstack capacity record|rechoose|check STACK."""
    try:
        project = Path(args.project_dir).resolve() if args.project_dir else find_project(Path.cwd())
        path = stack_file(project, args.stack)
        values = read_stack_values(path, args.stack)
        recorded = read_recorded(path, args.stack, project)
        _, kept = plan_platform(args.stack, values, str(path), project=project, recorded=recorded)
        if args.action == "rechoose":
            groups = frozenset(args.group)
            recordable = sorted({g.pool for g in kept.groups if g.name in kept.record})
            unknown = sorted(groups - set(recordable))
            if unknown:
                raise UsageError(f"stack {args.stack!r}: no node group {', '.join(unknown)} whose instance types the "
                                 f"planner chooses; groups: {', '.join(recordable) or 'none'}")
            _, fresh = plan_platform(args.stack, values, str(path), project=project, recorded=recorded,
                                     rechoose=groups)
        else:
            fresh = kept
    except cfg.ConfigError as e:
        print(e.render(), file=sys.stderr)
        return 2
    except UsageError as e:
        print(f"modelstack: {e}", file=sys.stderr)
        return 2
    target = rec_mod.path_for(path.parent, args.stack)
    shown = rec_mod.shown(target, project)
    old = recorded.groups if recorded else {}
    if args.action == "check":
        stale = [f"{n} (no longer planned)" for n in sorted(set(old) - set(kept.record))]
        stale += [f"{n} ({why})" for n, why in kept.rechosen.items()]
        missing = sorted(set(kept.record) - set(old))
        if recorded is None:
            print(f"stack {args.stack}: no recorded capacity choices ({shown}); run `modelstack capacity record "
                  f"{args.stack}` and commit the file", file=sys.stderr)
            return 1
        if stale or missing:
            print(f"stack {args.stack}: {shown} is stale: " + "; ".join(
                ([f"not recorded: {', '.join(missing)}"] if missing else []) + ([f"stale: {', '.join(stale)}"] if stale else []))
                + f". Run `modelstack capacity record {args.stack}` and commit the file.", file=sys.stderr)
            return 1
        print(f"stack {args.stack}: {shown} is current ({len(old)} group(s))")
        return 0
    changed = sorted(n for n, g in fresh.record.items() if n in old and old[n].instance_types != g.instance_types)
    for n in changed:
        print(f"  {n}: {', '.join(old[n].instance_types)} -> {', '.join(fresh.record[n].instance_types)} "
              "(replaces the node group)")
    for n in sorted(set(fresh.record) - set(old)):
        print(f"  {n}: recorded {', '.join(fresh.record[n].instance_types)}")
    if args.action == "rechoose":
        from modelstack.plan.diff import signed_usd

        delta = cost_mod.estimate(fresh.cost_inputs).usd_per_month_max - cost_mod.estimate(kept.cost_inputs).usd_per_month_max
        print(f"re-choosing: {len(changed)} node group(s) replaced; at max replicas {signed_usd(delta, 'month', 2)}")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(rec_mod.render(args.stack, fresh.record, date.today(), version()))
    print(f"wrote {shown}: commit it; plans and `pulumi up` follow it")
    return 0


def _prices_refresh(args: argparse.Namespace) -> int:
    """`modelstack prices refresh`: exit 0 written, 2 bad input or AWS refused (one message, no traceback)."""
    from modelstack.capacity import refresh
    from modelstack.planner import prices as prices_mod

    def fail(msg: str) -> int:
        print(f"modelstack prices refresh: {msg}", file=sys.stderr)
        return 2

    if args.region not in cfg.REGIONS:
        return fail(f"--region: got {args.region!r}; allowed: an AWS region where EKS runs: one of {', '.join(cfg.REGIONS)}")
    try:
        if args.out:
            out = Path(args.out)
        else:
            project = Path(args.project_dir).resolve() if args.project_dir else find_project(Path.cwd())
            out = prices_mod.default_path(project, args.region)
    except UsageError as e:
        return fail(str(e))
    try:
        import boto3
        import botocore.config
        import botocore.exceptions

        conf = botocore.config.Config(retries={"mode": "standard", "max_attempts": 5})
        session = boto3.session.Session()
        pricing_client = session.client("pricing", region_name=refresh.PRICING_API_REGION, config=conf)
        ec2_client = session.client("ec2", region_name=args.region, config=conf)
    except Exception as e:  # noqa: BLE001 -- a broken profile or config file: one message
        return fail(refresh.explain(e, "the AWS clients", args.region))
    try:
        doc = refresh.refresh(args.region, sorted(pricing.catalog()), pricing_client, ec2_client)
    except refresh.RefreshError as e:
        return fail(str(e))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(doc, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    except OSError as e:
        return fail(f"cannot write {out}: {e.strerror or e}")
    c = doc["counts"]
    print(f"wrote {out}: {args.region} prices of {doc['date']} for {c['catalog_types']} catalog types "
          f"({c['offered']} offered, {c['on_demand_priced']} with an on-demand price, {c['spot_priced']} with spot prices)")
    return 0


def _diff(args: argparse.Namespace) -> int:
    from modelstack.plan import diff as plan_diff

    to_stdout = args.json == "-"
    try:
        d = plan_diff.summarize(args.old, args.new, None if to_stdout else args.json)
    except plan_diff.PlanReadError as e:
        print(f"modelstack diff: cannot read the plans: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"modelstack diff: cannot write {args.json}: {e.strerror or e}", file=sys.stderr)
        return 2
    print(plan_diff.render(d), file=sys.stderr if to_stdout else sys.stdout)
    if to_stdout:
        sys.stdout.write(json.dumps(d.to_json(), indent=2) + "\n")
    if args.fail_on_replace and (d.count("replace") or d.count("delete") or d.count("unknown")):
        print(f"{d.count('replace')} replacement(s), {d.count('delete')} deletion(s) and {d.count('unknown')} change(s) "
              "that may replace (no facts for the type): review before applying.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# The base branch's stack configs planned with this branch's code, diffed against this branch's configs, per
# environment, into the job summary (creates, updates, replacements, each Deployment's rollout, cost and policy
# deltas). An environment whose diff cannot be made fails the step, named in the summary and as an error
# annotation; it is never dropped silently.
#   plan-diff.sh BASE_REV [ENV ...]     (default dev staging prod)
# BASE_REV is a git revision holding the base branch's stacks/ (the workflow fetches it as FETCH_HEAD).
# MODELSTACK (default .venv/bin/modelstack) and GITHUB_STEP_SUMMARY (default: stdout) may be set.
set -uo pipefail
base=${1:?usage: plan-diff.sh BASE_REV [ENV ...]}
shift
envs=("$@")
[ ${#envs[@]} -gt 0 ] || envs=(dev staging prod)
ms=${MODELSTACK:-.venv/bin/modelstack}
summary=${GITHUB_STEP_SUMMARY:-/dev/stdout}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=()

fail() {  # env, what went wrong, log file
  { echo "### $1: no plan diff"; echo "$2"; echo '```'; tail -n 40 "$3"; echo '```'; } >> "$summary"
  echo "::error title=plan diff ($1)::$2"
  failed+=("$1")
}

for env in "${envs[@]}"; do
  if ! git cat-file -e "$base:stacks/Pulumi.$env.yaml" 2>/dev/null; then
    echo "### $env: new stack (no stacks/Pulumi.$env.yaml on the base branch), nothing to compare" >> "$summary"
    continue
  fi
  git show "$base:stacks/Pulumi.$env.yaml" > "$work/base-$env.yaml"
  # The base branch's recorded capacity choices, beside its stack file as the plan looks for them.
  mkdir -p "$work/capacity"
  rm -f "$work/capacity/$env.yaml"
  if git cat-file -e "$base:stacks/capacity/$env.yaml" 2>/dev/null; then
    git show "$base:stacks/capacity/$env.yaml" > "$work/capacity/$env.yaml"
  fi
  # Exit 1 is a mandatory policy violation: plan.json is written and the diff still says what changes.
  "$ms" plan "$env" --stack-file "$work/base-$env.yaml" --json "$work/base-$env.json" > "$work/base-$env.log" 2>&1
  rc=$?
  if [ $rc -gt 1 ] || [ ! -s "$work/base-$env.json" ]; then
    fail "$env" "the base branch's stacks/Pulumi.$env.yaml does not plan with this branch's code (exit $rc)" "$work/base-$env.log"
    continue
  fi
  "$ms" plan "$env" --json "$work/head-$env.json" > "$work/head-$env.log" 2>&1
  rc=$?
  if [ $rc -gt 1 ] || [ ! -s "$work/head-$env.json" ]; then
    fail "$env" "this branch's stacks/Pulumi.$env.yaml does not plan (exit $rc)" "$work/head-$env.log"
    continue
  fi
  if ! "$ms" diff "$work/base-$env.json" "$work/head-$env.json" > "$work/diff-$env.txt" 2>&1; then
    fail "$env" "modelstack diff failed" "$work/diff-$env.txt"
    continue
  fi
  { echo "### $env"; echo '```'; cat "$work/diff-$env.txt"; echo '```'; } >> "$summary"
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "no plan diff for: ${failed[*]}" >&2
  exit 1
fi

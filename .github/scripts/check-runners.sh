#!/usr/bin/env bash
# Fails, naming each one, when a repository variable RUNNER_<ENV> that selects the in-VPC runner of a cluster job
# is empty: without it the job would wait for a runner that never comes, or run where the API is unreachable.
#   check-runners.sh [ENV ...]    (default dev staging prod; reads RUNNER_DEV, RUNNER_STAGING, RUNNER_PROD)
set -euo pipefail
envs=("$@")
[ ${#envs[@]} -gt 0 ] || envs=(dev staging prod)
missing=()
for env in "${envs[@]}"; do
  var="RUNNER_${env^^}"
  [ -n "${!var:-}" ] || missing+=("$var")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "::error title=cluster runners::set the repository variable(s) ${missing[*]} to the label of a self-hosted runner inside that environment's VPC (README, \"Deploying for real\")"
  exit 1
fi
echo "cluster jobs run on: $(for env in "${envs[@]}"; do var="RUNNER_${env^^}"; printf '%s=%s ' "$env" "${!var}"; done)"

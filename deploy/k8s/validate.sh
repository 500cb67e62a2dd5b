#!/usr/bin/env bash
# Validates the Kubernetes manifests here, offline, against the API schemas that
# kubernetes-validate ships (no cluster, no network once it is installed):
#
#   deploy/k8s/validate.sh
#
# The files checked are the resources kustomization.yaml lists; a YAML file here that it does
# not list, or a listed file that is missing, is an error too. Strict mode rejects unknown
# fields, and a resource whose kind has no schema (a typo in kind or apiVersion) fails rather
# than being skipped with a warning. K8S_VERSION picks the schema version (default 1.30.0).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
version="${K8S_VERSION:-1.30.0}"

if ! python3 -c 'import kubernetes_validate' 2>/dev/null; then
  python3 -m pip install -q kubernetes-validate
fi

# The resource files: kustomization.yaml's list, checked against the directory.
listed=$(python3 - <<'PY'
import glob, sys
import yaml

listed = yaml.safe_load(open("kustomization.yaml"))["resources"]
present = sorted(set(glob.glob("*.yaml")) - {"kustomization.yaml"})
problems = [f"{f}: listed in kustomization.yaml but missing" for f in listed if f not in present]
problems += [f"{f}: not listed in kustomization.yaml" for f in present if f not in listed]
if problems:
    sys.exit("\n".join(problems))
print("\n".join(listed))
PY
)
mapfile -t files <<<"$listed"

status=0
output=$(python3 -m kubernetes_validate --strict -k "$version" "${files[@]}") || status=$?
echo "$output"
# kubernetes-validate only warns (and exits 0) when it has no schema for a kind: fail on it.
if [ "$status" -ne 0 ] || grep -qvE '^INFO ' <<<"$output"; then
  echo "validation failed" >&2
  exit 1
fi
echo "all ${#files[@]} files valid against Kubernetes $version"

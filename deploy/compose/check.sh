#!/usr/bin/env bash
# Checks the container stack without a container engine: docker-compose parses and interpolates
# docker-compose.yml (with .env.example), and every file or directory it mounts from the
# repository exists (secrets/ is made by the operator, see docs/packaging.md). Run by .ci/run.
set -euo pipefail
cd "$(dirname "$0")"
resolved="$(mktemp)"
trap 'rm -f "$resolved"' EXIT
docker-compose --env-file .env.example -f docker-compose.yml config > "$resolved"
python3 - "$resolved" <<'PY'
import os, sys, yaml

with open(sys.argv[1]) as f:
    stack = yaml.safe_load(f)
problems = []
for name, service in stack["services"].items():
    build = service.get("build")
    if build:
        dockerfile = os.path.join(build["context"], build.get("dockerfile", "Dockerfile"))
        if not os.path.isfile(dockerfile):
            problems.append(f"{name}: no Dockerfile {dockerfile}")
    for volume in service.get("volumes", []):
        source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
        if not source.startswith("/") or "/secrets/" in source:
            continue  # a named volume, or a secret the operator creates
        if not os.path.exists(source):
            problems.append(f"{name}: mounts {source}, which does not exist")
services = sorted(stack["services"])
if problems:
    sys.exit("deploy/compose: " + "; ".join(problems))
print(f"deploy/compose: {len(services)} services ({', '.join(services)}), every mounted file present")
PY

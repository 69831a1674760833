#!/usr/bin/env bash
# Bundles the OpenAPI document's source (this folder) into one file, the
# one the service embeds and serves: bundle.sh OUT (default: ../openapi.yaml).
# Redocly CLI is pinned in .ci/openapi with its lockfile.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
out="${1:-$here/../openapi.yaml}"
tools="$root/.ci/openapi"
if [ ! -x "$tools/node_modules/.bin/redocly" ] || [ "$tools/package-lock.json" -nt "$tools/node_modules/.package-lock.json" ]; then
  npm ci --prefix "$tools" --no-audit --no-fund --loglevel=error >&2
fi
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
tmp="$(mktemp --suffix=.yaml)"
trap 'rm -f "$tmp"' EXIT
"$tools/node_modules/.bin/redocly" bundle "$here/openapi.yaml" --output "$tmp" >/dev/null 2>&1 ||
  "$tools/node_modules/.bin/redocly" bundle "$here/openapi.yaml" --output "$tmp"
{
  echo "# Generated from internal/httpapi/openapi/ by internal/httpapi/openapi/bundle.sh"
  echo "# (go generate ./internal/httpapi); edit the source there, not this file."
  cat "$tmp"
} >"$out"

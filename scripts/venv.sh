#!/usr/bin/env bash
# Creates .venv with the pinned AWS emulator (moto) that the DynamoDB tests and the
# interpreter benchmark use, and cfn-lint for the SAM template. Idempotent; prints the venv's python.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv"
want="5.2.5"
cfn_lint="1.58.0"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" >&2
fi
if ! "$venv/bin/python" -c "import moto, sys; sys.exit(0 if moto.__version__ == '$want' else 1)" 2>/dev/null \
  || [ ! -x "$venv/bin/cfn-lint" ]; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "moto[server,stepfunctions]==$want" boto3 "cfn-lint==$cfn_lint" >&2
fi
echo "$venv/bin/python"

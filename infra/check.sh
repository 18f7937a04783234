#!/usr/bin/env bash
# Lints the deployable artefacts offline: the state machine (asl-validator), the SAM template
# (cfn-lint, and `sam validate --lint` when sam is installed) and the CDK app (synth + tests)
# when its node_modules are installed. Exits non-zero on the first failure.
#
#   infra/check.sh            everything available
#   SKIP_CDK=1 infra/check.sh without the CDK synth/tests
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cdk="$here/cdk"

step() { printf '== %s\n' "$*"; }

# npm packages (asl-validator, aws-cdk-lib, aws-cdk) live in infra/cdk/node_modules (gitignored).
if [ ! -x "$cdk/node_modules/.bin/asl-validator" ]; then
  step "npm ci (infra/cdk)"
  (cd "$cdk" && npm ci --no-audit --no-fund --loglevel=error)
fi

step "asl-validator state-machines/*.asl.json"
for def in "$root"/state-machines/*.asl.json; do
  "$cdk/node_modules/.bin/asl-validator" --json-path "$def"
done

# (The CDK test asserts the same for the synthesized stack.)
step "placeholders: every \${...} in joiner.asl.json is substituted by the SAM template"
for ph in $(grep -o '\${[A-Za-z]*}' "$root/state-machines/joiner.asl.json" | sort -u | tr -d '${}'); do
  grep -q "^        $ph:" "$here/sam/template.yaml" || { echo "SAM template does not substitute $ph" >&2; exit 1; }
done

step "cfn-lint infra/sam/template.yaml"
if ! command -v cfn-lint >/dev/null 2>&1; then
  echo "cfn-lint is not installed: pip install cfn-lint (or run scripts/venv.sh if it provides it)" >&2
  exit 1
fi
cfn-lint "$here/sam/template.yaml"

if command -v sam >/dev/null 2>&1; then
  step "sam validate --lint"
  (cd "$here/sam" && AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-eu-west-1}" SAM_CLI_TELEMETRY=0 sam validate --lint -t template.yaml)
else
  step "sam not installed: skipping sam validate --lint (cfn-lint above covers the same rules)"
fi

if [ -z "${SKIP_CDK:-}" ]; then
  step "cdk: typecheck and tests (they synthesize the stack in-process, offline, no credentials)"
  (cd "$cdk" && npx tsc --noEmit && npm test --silent)
fi
echo "infra checks passed"

#!/usr/bin/env bash
# Interpreter throughput on bench/asl-machines, side by side with moto 5.2.5 when the repo's
# .venv exists (created by scripts/venv.sh). Prints a Markdown table.
#   bench/asl-bench.sh            # dayone + moto (20 moto executions per machine)
#   DAYONE_BENCH_MOTO= bench/asl-bench.sh   # dayone only
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if [[ -z "${DAYONE_BENCH_MOTO+x}" && -x "$root/.venv/bin/python" ]]; then
  export DAYONE_BENCH_MOTO="$root/.venv/bin/python"
fi
export DAYONE_BENCH_MOTO_N="${DAYONE_BENCH_MOTO_N:-20}"
cd "$root"
exec cargo bench -p dayone-asl --bench interpreter

#!/usr/bin/env bash
# Runs a command with a moto server (DynamoDB and friends) on loopback, then stops it.
# The command sees DAYONE_DYNAMODB_ENDPOINT=http://127.0.0.1:PORT and dummy AWS credentials.
# Usage: scripts/with-moto.sh cargo test --workspace
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python="$("$root/scripts/venv.sh")"
port="${DAYONE_MOTO_PORT:-$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}"
log="$root/target/moto-server.log"
mkdir -p "$root/target"
"$root/.venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  if "$python" -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/')" 2>/dev/null; then
    break
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "moto server exited; see $log" >&2
    exit 1
  fi
  sleep 0.1
done
export DAYONE_DYNAMODB_ENDPOINT="http://127.0.0.1:$port"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
echo "moto server on $DAYONE_DYNAMODB_ENDPOINT" >&2
"$@"

#!/usr/bin/env bash
# Interop and load check of `quanta serve` on the real model:
#  1. the official `openai` Python client (venv under build/, from PyPI) completes and streams;
#  2. `quanta loadtest`: 32 concurrent streaming clients, 10% hanging up mid-stream, plus
#     malformed requests; afterwards 0 KV blocks in use and /health answers;
#  3. SIGTERM drains and exits 0.
# Exit 77 (skip) when the venv cannot be made or openai cannot be installed.
# Usage: scripts/interop/openai_client.sh [path/to/quanta] [model dir]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
QUANTA=${1:-$ROOT/build/quanta}
MODEL=${2:-$ROOT/models/smollm2-135m-instruct}
VENV=$ROOT/build/interop-venv
[[ -x $QUANTA ]] || { echo "no quanta binary at $QUANTA"; exit 1; }
[[ -f $MODEL/config.json ]] || { echo "SKIP: no model at $MODEL"; exit 77; }
if [[ ! -x $VENV/bin/python ]] || ! "$VENV/bin/python" -c "import openai" 2>/dev/null; then
  python3 -m venv "$VENV" >/dev/null 2>&1 || { echo "SKIP: python3 -m venv failed"; exit 77; }
  "$VENV/bin/pip" install -q openai >/dev/null 2>&1 || { echo "SKIP: pip install openai failed"; exit 77; }
fi
LOG=$(mktemp)
KEY=interop-key
"$QUANTA" serve --model "$MODEL" --port 0 --api-key "$KEY" --max-batch 8 --ctx 1024 2>"$LOG" &
PID=$!
# On any failure, show the server's log before cleaning up.
trap 'rc=$?; [[ $rc -ne 0 ]] && { echo "FAILED (exit $rc); server log:"; cat "$LOG"; }; kill $PID 2>/dev/null || true; rm -f "$LOG"' EXIT
PORT=
for _ in $(seq 1 300); do
  PORT=$(sed -n 's/.*on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$LOG")
  [[ -n $PORT ]] && break
  kill -0 $PID 2>/dev/null || { cat "$LOG"; echo "server died"; exit 1; }
  sleep 0.1
done
[[ -n $PORT ]] || { cat "$LOG"; echo "server did not start"; exit 1; }
URL=http://127.0.0.1:$PORT
echo "server on $URL"
"$VENV/bin/python" "$ROOT/scripts/interop/openai_client.py" "$URL/v1" "$KEY"
"$QUANTA" loadtest --url "$URL" --api-key "$KEY" --concurrency 32 --requests 40 --prompt-len 32 \
  --gen-len 12 --token-range 20000 --abort-fraction 0.1 --malformed 16 --check-clean
kill -TERM $PID
wait $PID
echo "server exit status: $? (SIGTERM drained)"
cat "$LOG"

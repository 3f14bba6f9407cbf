#!/usr/bin/env bash
# Serving benchmark on one folder, vLLM and quanta one after the other on the same machine:
# `vllm serve` + vLLM's own `vllm bench serve` (random prompts, 128 tokens in, 64 out, ignore_eos,
# concurrency 1 and 8), then `quanta serve` + `quanta loadtest` with the same shape. Prints markdown
# table rows: folder | server | concurrency | TTFT p50/p99 ms | ITL p50/p99 ms | output tok/s.
# Usage: vllm_bench.sh PYTHON QUANTA FOLDER NAME OUTDIR   (called by scripts/interop/vllm.sh)
# Environment: VLLM_BENCH_PORT (default 18310; quanta uses +1), VLLM_BENCH_PROMPTS ("16,32": requests
# at concurrency 1 and 8), VLLM_BENCH_EAGER=1 (vLLM without torch.compile / CPU graphs).
# Servers are bound to 127.0.0.1, each in its own process group, killed (the group) when done or on exit.
set -euo pipefail
set -m  # job control: each server started with & leads its own process group (pgid = $!)
py="$1"; q="$2"; folder="$3"; name="$4"; out="$5"
port="${VLLM_BENCH_PORT:-18310}"; qport=$((port + 1))
IFS=, read -r n1 n8 <<<"${VLLM_BENCH_PROMPTS:-16,32}"
in_len=128; out_len=64
mkdir -p "$out"
pgid=""
stop() {  # kills the server's whole process group (vLLM spawns an engine-core child)
  if [ -n "$pgid" ]; then
    kill -TERM -- "-$pgid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 -- "-$pgid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL -- "-$pgid" 2>/dev/null || true
    pgid=""
  fi
}
trap stop EXIT
wait_up() {  # url log seconds
  local t0=$SECONDS
  until curl -sf "$1/v1/models" >/dev/null 2>&1; do
    if ! kill -0 -- "-$pgid" 2>/dev/null; then echo "server exited; see $2" >&2; tail -3 "$2" >&2; return 1; fi
    if [ $((SECONDS - t0)) -gt "$3" ]; then echo "server not up after $3 s; see $2" >&2; return 1; fi
    sleep 2
  done
  echo "$((SECONDS - t0))"
}
row() {  # server concurrency json
  "$py" - "$@" "$name" <<'PY'
import json, sys
server, conc, path, name = sys.argv[1:5]
r = json.load(open(path))
if isinstance(r, list):
    r = next(x for x in r if x["max_concurrency"] == int(conc))
print(f"| {name} | {server} | {conc} | {r['median_ttft_ms']:.1f} / {r['p99_ttft_ms']:.1f} | "
      f"{r['median_itl_ms']:.1f} / {r['p99_itl_ms']:.1f} | {r['output_throughput']:.1f} |")
PY
}

# vLLM: its own server and its own benchmark client (the `vllm` command through vllm_cli.py: the
# wheel's own entry point fails, see there).
vllm_bin=("$py" "$(dirname "$0")/vllm_cli.py")
eager=(); [ "${VLLM_BENCH_EAGER:-0}" = 1 ] && eager=(--enforce-eager)
"${vllm_bin[@]}" serve "$folder" --host 127.0.0.1 --port "$port" --served-model-name "$name" \
  --max-model-len 1024 --seed 0 "${eager[@]}" >"$out/$name-vllm-serve.log" 2>&1 &
pgid=$!
# The first start of a folder compiles (torch.compile AOT, ~6 min on 2 busy cores; cached after).
up=$(wait_up "http://127.0.0.1:$port" "$out/$name-vllm-serve.log" 1200)
echo "vLLM serve $name: up after $up s" >&2
for c in 1 8; do
  n=$n1; [ "$c" = 8 ] && n=$n8
  "${vllm_bin[@]}" bench serve --backend openai --base-url "http://127.0.0.1:$port" --endpoint /v1/completions \
    --model "$name" --tokenizer "$folder" --dataset-name random --random-input-len $in_len \
    --random-output-len $out_len --num-prompts "$n" --max-concurrency "$c" --ignore-eos --seed 0 \
    --percentile-metrics ttft,itl --metric-percentiles 50,99 --save-result --result-dir "$out" \
    --result-filename "$name-vllm-c$c.json" --disable-tqdm >"$out/$name-vllm-bench-c$c.log" 2>&1 ||
    { echo "vllm bench serve failed; see $out/$name-vllm-bench-c$c.log" >&2; tail -3 "$out/$name-vllm-bench-c$c.log" >&2; exit 1; }
done
stop

# quanta: its server and its load generator, same shape (random ids over the whole vocabulary).
"$q" serve --model "$folder" --host 127.0.0.1 --port "$qport" --served-model-name "$name" \
  --max-batch 8 --ctx 1024 >"$out/$name-quanta-serve.log" 2>&1 &
pgid=$!
up=$(wait_up "http://127.0.0.1:$qport" "$out/$name-quanta-serve.log" 300)
echo "quanta serve $name: up after $up s" >&2
vocab=$("$py" -c "import json,sys; print(json.load(open(sys.argv[1]))['vocab_size'])" "$folder/config.json")
for c in 1 8; do
  n=$n1; [ "$c" = 8 ] && n=$n8
  "$q" loadtest --url "http://127.0.0.1:$qport" --model "$name" --concurrency "$c" --requests "$n" \
    --prompt-len $in_len --gen-len $out_len --token-range "$vocab" --json "$out/$name-quanta-c$c.json" \
    >"$out/$name-quanta-loadtest-c$c.log" 2>&1 ||
    { echo "quanta loadtest failed; see $out/$name-quanta-loadtest-c$c.log" >&2; exit 1; }
done
stop

for c in 1 8; do
  row vLLM "$c" "$out/$name-vllm-c$c.json"
  row quanta "$c" "$out/$name-quanta-c$c.json"
done

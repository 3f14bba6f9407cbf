#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/*.cc; clang + ASan + UBSan) in build-fuzz/ and runs each for a
# bounded time on seed corpora generated here from the repository's and the model's real files
# (never committed: build-fuzz/corpus/). Crashes land in build-fuzz/crashes/<target>/; the script
# exits 1 if any target crashed.
# Usage: scripts/fuzz.sh [--smoke | --seconds N | --runs N [--workers W]] [TARGET...]   (--smoke:
# 10 s per target, what CI runs; default 60 s; --runs: N executions per target, no time limit, split
# over W processes that share the target's corpus (each picks up the others' new inputs; default 1);
# TARGETs: fuzz_safetensors, ... — default all). Installs clang/libFuzzer from Debian if missing
# (scripts/setup.sh --fuzz). Most targets write each input to a scratch file, so TMPDIR defaults
# to /dev/shm where it exists (2.6x the executions per second of a disk-backed /tmp).
# Environment: CXX_FUZZ (default clang++-14, else clang++), QUANTA_BIN (for seeds; default
# build/quanta), MODEL (default models/smollm2-135m-instruct), JOBS (default 2), TIMEOUT (seconds one
# input may run before libFuzzer calls it a hang; default 20 — raise it for long runs on a loaded machine).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
seconds=60
limit=()
runs=0
workers=1
only=()
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) seconds=10 ;;
    --seconds) seconds="$2"; shift ;;
    --runs) runs="$2"; shift ;;
    --workers) workers="$2"; shift ;;
    fuzz_*) only+=("$1") ;;
    *) echo "usage: $0 [--smoke | --seconds N | --runs N [--workers W]] [TARGET...]" >&2; exit 2 ;;
  esac
  shift
done
case "$workers" in ''|*[!0-9]*|0) echo "fuzz: --workers wants a positive number" >&2; exit 2 ;; esac
if [ "$runs" -gt 0 ]; then limit=(-runs="$(( (runs + workers - 1) / workers ))"); else limit=(-max_total_time="$seconds"); workers=1; fi
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi
bash scripts/setup.sh --fuzz
cxx=${CXX_FUZZ:-$(command -v clang++-14 || command -v clang++)}
quanta=${QUANTA_BIN:-build/quanta}
model=${MODEL:-models/smollm2-135m-instruct}
jobs=${JOBS:-2}
b=build-fuzz
log() { echo "fuzz: $*" >&2; }

cmake -S . -B "$b" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 \
  -DCMAKE_CXX_COMPILER="$cxx" -DQUANTA_FUZZ=ON >/dev/null
t0=$(date +%s)
cmake --build "$b" -j "$jobs" >&2
log "build-fuzz built in $(( $(date +%s) - t0 )) s"

# Seeds, from real files.
c="$b/corpus"
targets=(fuzz_safetensors fuzz_config fuzz_tokenizer_json fuzz_tokenizer_encode fuzz_gguf fuzz_ct_config
         fuzz_openai_request)
for t in "${targets[@]}"; do mkdir -p "$c/$t"; done
tiny=tests/golden/data/tiny
for d in "$tiny"/*/; do
  n=$(basename "$d")
  cp "$d/config.json" "$c/fuzz_config/$n.json"
  head -c 4096 "$d/model.safetensors" >"$c/fuzz_safetensors/$n.head"
done
cp "$tiny/llama_tied_f16/model.safetensors" "$c/fuzz_safetensors/llama_tied_f16.safetensors"
[ -f "$model/config.json" ] && cp "$model/config.json" "$c/fuzz_config/smollm2.json"
seed_model="$b/seed_model"
if [ -f "$model/tokenizer.json" ] && [ ! -f "$c/fuzz_tokenizer_json/smollm2_small.json" ]; then
  # The real tokenizer cut to its first 128 ids (and the merges among them): small enough to mutate.
  python3 - "$model/tokenizer.json" "$c/fuzz_tokenizer_json/smollm2_small.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1], encoding="utf-8"))
vocab = {k: v for k, v in t["model"]["vocab"].items() if v < 128}
t["model"]["vocab"] = vocab
t["model"]["merges"] = [m for m in t["model"]["merges"]
                        if all(p in vocab for p in (m.split(" ") if isinstance(m, str) else m))
                        and "".join(m.split(" ") if isinstance(m, str) else m) in vocab]
t["added_tokens"] = [a for a in t["added_tokens"] if a["id"] < 128]
json.dump(t, open(sys.argv[2], "w", encoding="utf-8"), ensure_ascii=False)
PY
fi
if [ -f "$c/fuzz_tokenizer_json/smollm2_small.json" ] && [ -x "$quanta" ] && [ ! -f "$c/fuzz_gguf/tiny.gguf" ]; then
  rm -rf "$seed_model" "$b/seed_ct"
  mkdir -p "$seed_model"
  cp "$tiny/llama_tied_f16/config.json" "$tiny/llama_tied_f16/model.safetensors" "$seed_model/"
  cp "$c/fuzz_tokenizer_json/smollm2_small.json" "$seed_model/tokenizer.json"
  "$quanta" export --model "$seed_model" --out "$c/fuzz_gguf/tiny.gguf" >/dev/null
  "$quanta" compress --model "$seed_model" --scheme W4A16_ASYM --group-size 16 --method rtn \
    --out "$b/seed_ct" >/dev/null 2>&1
  cp "$b/seed_ct/config.json" "$c/fuzz_ct_config/w4a16_asym.json"
  cp "$b/seed_ct/config.json" "$c/fuzz_config/w4a16_asym.json"
fi
printf 'Hello world 123' >"$c/fuzz_tokenizer_encode/hello"
printf '<|im_start|>user\nWhat is 2+2?<|im_end|>\n' >"$c/fuzz_tokenizer_encode/chat"
printf 'caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \r\n\t  x' >"$c/fuzz_tokenizer_encode/unicode"
if [ -f ../shared/data/wikitext-2-raw/wiki.test.raw ]; then
  head -c 2000 ../shared/data/wikitext-2-raw/wiki.test.raw >"$c/fuzz_tokenizer_encode/wiki"
fi
# Every input a fuzzer once failed on (tests/data/fuzz/, kept beside its regression test) is a seed
# too, so every run, the CI smoke included, replays them under ASan + UBSan first.
for f in tests/data/fuzz/*; do
  case "$(basename "$f")" in
    gguf_*) cp "$f" "$c/fuzz_gguf/" ;;
    ct_config_*) cp "$f" "$c/fuzz_ct_config/" ;;
    config_*) cp "$f" "$c/fuzz_config/" ;;
    request_*) cp "$f" "$c/fuzz_openai_request/" ;;
  esac
done
# Request bodies as the openai client and curl users send them; the first byte picks the endpoint
# (0: /v1/completions, 1: /v1/chat/completions).
r="$c/fuzz_openai_request"
printf '\0{"model":"smollm2","prompt":"The capital of France is","max_tokens":16,"temperature":0}' >"$r/completion"
printf '\0{"prompt":[1,504,3458],"max_tokens":4,"stop":["\\n","."],"seed":42,"top_p":0.9,"n":1}' >"$r/completion_ids"
printf '\0{"prompt":["Once upon a time"],"stream":true,"stream_options":{"include_usage":true},"ignore_eos":true}' >"$r/completion_stream"
printf '\1{"model":"smollm2","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"What is 2+2?"}],"max_tokens":16,"temperature":0}' >"$r/chat"
printf '\1{"messages":[{"role":"user","content":[{"type":"text","text":"Hi"},{"type":"text","text":" there"}]},{"role":"assistant","content":null},{"role":"developer","content":"caf\xc3\xa9 \\u20ac"}],"max_completion_tokens":8,"temperature":1.5,"stream":true,"stream_options":{"include_usage":true}}' >"$r/chat_parts"

# Input size cap: whole files for the binary formats (their seeds are real files up to ~145 KB, cut
# at 64 KiB); 4 KiB of text for the tokenizer (at 64 KiB its inputs grew to 15 KB and it slowed from
# 2,300 to 630 executions/s).
max_len() { case "$1" in fuzz_tokenizer_encode) echo 4096 ;; *) echo 65536 ;; esac; }
export QUANTA_FUZZ_TOKENIZER_DIR="$model"
status=0
[ ${#only[@]} -eq 0 ] || targets=("${only[@]}")
for t in "${targets[@]}"; do
  if { [ "$t" = fuzz_tokenizer_encode ] || [ "$t" = fuzz_openai_request ]; } && [ ! -f "$model/tokenizer.json" ]; then
    log "$t skipped: no $model/tokenizer.json"; continue
  fi
  mkdir -p "$b/crashes/$t" "$b/work/$t"
  cp -n "$c/$t"/* "$b/work/$t/" 2>/dev/null || true
  # One process, or W sharing the corpus (logs $t.log, $t.1.log, ...); rc is the worst of them.
  logs=()
  pids=()
  for ((w = 0; w < workers; ++w)); do
    l="$b/$t.log"; [ "$w" -eq 0 ] || l="$b/$t.$w.log"
    logs+=("$l")
    "$b/$t" "$b/work/$t" "${limit[@]}" -max_len="$(max_len "$t")" -rss_limit_mb=2048 -timeout="${TIMEOUT:-20}" \
      -artifact_prefix="$b/crashes/$t/" -print_final_stats=1 >"$l" 2>&1 &
    pids+=($!)
  done
  rc=0
  for p in "${pids[@]}"; do
    set +e
    wait "$p"
    r=$?
    set -e
    [ "$r" -eq 0 ] || rc=$r
  done
  execs=0
  secs=0
  for l in "${logs[@]}"; do
    e=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$l" | grep -o '[0-9]*$' || echo 0)
    execs=$((execs + e))
    s=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$l" | grep -o '[0-9]* second' | grep -o '[0-9]*' || echo "$seconds")
    [ "$s" -le "$secs" ] || secs=$s
  done
  # slow-unit-* files are inputs that took over 10 s (libFuzzer's -report_slow_units), not
  # failures: on a loaded machine (or a fuzzer paused by SIGSTOP) they are the wait, not the input.
  crashes=$(ls "$b/crashes/$t" | grep -vc '^slow-unit-' || true)
  slow=$(ls "$b/crashes/$t" | grep -c '^slow-unit-' || true)
  echo "$t: exit $rc, $execs executions ($workers process(es)) in $secs seconds, corpus $(ls "$b/work/$t" | wc -l), crash files $crashes, slow units $slow"
  [ "$rc" -eq 0 ] && [ "$crashes" -eq 0 ] || status=1
done
exit $status

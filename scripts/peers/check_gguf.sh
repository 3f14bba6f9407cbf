#!/usr/bin/env bash
# quanta's GGUF export checked by llama.cpp itself (not run in CI; needs scripts/peers/llama_cpp.sh):
#   (a) our GPTQ W4A16 g32 symmetric folder on ggml's Q4_0 grid (--scale-rule ggml --actorder static;
#       RULE=minmax for compressed-tensors' grid, ACTORDER=none for no act-order) exported to Q4_0 (its
#       own integers and scales); its llama.cpp perplexity must be below (b)'s
#   (a0) RTN W4A16 g32 on ggml's grid of the F16-rounded weights (our F16 export imported back with
#       `quanta import-gguf`), exported to Q4_0: must equal (b) block for block, d for d, code for
#       code (scripts/peers/compare_gguf_blocks.py, reading both with llama.cpp's gguf-py)
#   (b) llama.cpp's own Q4_0 of the same model (llama-quantize of our F16 export), with llama.cpp's
#       default embedding/output type, and (b') with the embedding kept in F16 like ours
#   (c) our F16 export of the plain model
# llama-completion must load each and generate; llama-perplexity -c 512 --chunks 16 on
# wiki.test.raw for each; `quanta ppl --second-half --windows 16` on the GPTQ folder must be within
# 1 % of (a).
# Environment: MODEL (plain folder, default models/smollm2-135m-instruct), CT (GPTQ W4A16 g32 folder;
# made with SAMPLES x 512 tokens of CALIB if missing), RULE (ggml or minmax, default ggml), ACTORDER
# (static or none, default static), WORK
# (scratch, default /tmp/quanta_gguf_check), QUANTA_PEERS_DIR (default /work/peers), GGUF_PY
# (llama.cpp's gguf-py folder, default the copy in its vendored sources), PYTHON (with numpy),
# THREADS (default 2), CHUNKS (default 16).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
quanta=${QUANTA_BIN:-build/quanta}
bin=${QUANTA_PEERS_DIR:-/work/peers}/llama.cpp/bin
model=${MODEL:-models/smollm2-135m-instruct}
work=${WORK:-/tmp/quanta_gguf_check}
rule=${RULE:-ggml}
actorder=${ACTORDER:-static}
ct=${CT:-$work/gptq_w4a16_g32_${rule}_$actorder}
calib=${CALIB:-../shared/data/wikitext-2/wiki.valid.tokens}
samples=${SAMPLES:-32}
text=${TEXT:-../shared/data/wikitext-2-raw/wiki.test.raw}
threads=${THREADS:-2}
gguf_py=${GGUF_PY:-${QUANTA_PEERS_DIR:-/work/peers}/llama.cpp/src/llama_cpp_python-0.3.36/vendor/llama.cpp/gguf-py}
python=${PYTHON:-python3}
chunks=${CHUNKS:-16}
log() { echo "check_gguf: $*" >&2; }
for t in llama-completion llama-perplexity llama-quantize; do
  [ -x "$bin/$t" ] || { log "error: $bin/$t missing (run scripts/peers/llama_cpp.sh)"; exit 1; }
done
mkdir -p "$work"

if [ ! -f "$ct/config.json" ]; then
  log "compressing $model with GPTQ W4A16 g32, scale rule $rule ($samples x 512 tokens of $calib)"
  "$quanta" compress --model "$model" --scheme W4A16 --group-size 32 --method gptq --scale-rule "$rule" \
    --actorder "$actorder" \
    --calib "$calib" --samples "$samples" --seq-len 512 --out "$ct" >&2
fi
"$quanta" verify "$ct" >&2

export_once() {  # export_once SRC OUT [ARGS...]
  local src="$1" out="$2"; shift 2
  if [ ! -f "$out" ]; then "$quanta" export --model "$src" --format gguf --out "$out" "$@" >&2; fi
  "$quanta" verify "$out" >&2
}
export_once "$model" "$work/f16.gguf" --type f16
export_once "$ct" "$work/gptq_q4_0.gguf"
if [ ! -f "$work/llama_q4_0.gguf" ]; then
  "$bin/llama-quantize" --allow-requantize "$work/f16.gguf" "$work/llama_q4_0.gguf" Q4_0 "$threads" \
    >"$work/quantize.log" 2>&1
fi
# (a0): RTN on ggml's grid of exactly the weights llama-quantize saw.
if [ ! -f "$work/rtn_ggml_q4_0.gguf" ]; then
  rm -rf "$work/f16_folder" "$work/rtn_ggml_g32"
  "$quanta" import-gguf --gguf "$work/f16.gguf" --out "$work/f16_folder" >&2
  "$quanta" compress --model "$work/f16_folder" --scheme W4A16 --group-size 32 --method rtn \
    --scale-rule ggml --out "$work/rtn_ggml_g32" >&2
fi
export_once "$work/rtn_ggml_g32" "$work/rtn_ggml_q4_0.gguf"
PYTHONPATH="$gguf_py" "$python" scripts/peers/compare_gguf_blocks.py "$work/rtn_ggml_q4_0.gguf" \
  "$work/llama_q4_0.gguf" | tee "$work/compare_blocks.txt" || {
    log "error: RTN on ggml's grid differs from llama-quantize's Q4_0 (see $work/compare_blocks.txt)"; exit 1; }
if [ ! -f "$work/llama_q4_0_embf16.gguf" ]; then
  "$bin/llama-quantize" --allow-requantize --token-embedding-type f16 "$work/f16.gguf" \
    "$work/llama_q4_0_embf16.gguf" Q4_0 "$threads" >"$work/quantize_embf16.log" 2>&1
fi

results="$work/results.txt"
: >"$results"
for name in gptq_q4_0 rtn_ggml_q4_0 llama_q4_0 llama_q4_0_embf16 f16; do
  f="$work/$name.gguf"
  "$bin/llama-completion" -m "$f" -p "The capital of France is" -n 16 --temp 0 -t "$threads" \
    -no-cnv --no-warmup </dev/null >"$work/gen_$name.txt" 2>"$work/gen_$name.log" || {
      log "error: llama-completion failed on $f (see $work/gen_$name.log)"; exit 1; }
  "$bin/llama-perplexity" -m "$f" -f "$text" -c 512 --chunks "$chunks" -t "$threads" \
    >"$work/ppl_$name.log" 2>&1 || { log "error: llama-perplexity failed on $f"; exit 1; }
  ppl=$(grep -o 'Final estimate: PPL = [0-9.]*' "$work/ppl_$name.log" | grep -o '[0-9.]*$')
  size=$(stat -c %s "$f")
  echo "$name ppl=$ppl bytes=$size generated=$(tr '\n' ' ' <"$work/gen_$name.txt" | cut -c1-80)" | tee -a "$results"
done

ours=$("$quanta" ppl --model "$ct" --text "$text" --ctx 512 --windows "$chunks" --second-half 2>/dev/null |
  grep -o '^perplexity [0-9.]*' | grep -o '[0-9.]*$')
echo "quanta_ppl_second_half ppl=$ours folder=$ct" | tee -a "$results"
a=$(awk '/^gptq_q4_0 /{sub("ppl=","",$2); print $2}' "$results")
b=$(awk '/^llama_q4_0 /{sub("ppl=","",$2); print $2}' "$results")
awk -v a="$a" -v q="$ours" -v b="$b" 'BEGIN {
  d = (q - a) / a * 100; printf "quanta vs llama.cpp on the same GPTQ weights: %+.2f %%\n", d
  printf "GPTQ Q4_0 vs llama.cpp Q4_0: %.4f vs %.4f (%s)\n", a, b, (a < b ? "GPTQ better" : "llama.cpp better")
  exit (d < -1 || d > 1 || a >= b) ? 1 : 0 }' | tee -a "$results"

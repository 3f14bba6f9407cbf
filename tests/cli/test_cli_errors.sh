#!/usr/bin/env bash
# CLI bad-input behaviour: one line on stderr naming the problem, a non-zero exit, no crash.
# Usage: test_cli_errors.sh QUANTA_BIN
set -u
bin="$1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0; passes=0

# expect_error NAME PATTERN ARGS...: exit status must be 1 (not a crash, not 0) and stderr must match.
expect_error() {
  local name="$1" pattern="$2"; shift 2
  "$bin" "$@" >"$tmp/stdout.txt" 2>"$tmp/err"
  local rc=$?
  if [ "$rc" -eq 1 ] && grep -q -- "$pattern" "$tmp/err" && [ "$(wc -l <"$tmp/err")" -le 2 ]; then
    passes=$((passes + 1))
  else
    echo "FAIL $name: exit $rc, stderr: $(cat "$tmp/err")"; fails=$((fails + 1))
  fi
}

expect_error missing-dir "config.json" info --model "$tmp/nope"
mkdir -p "$tmp/m"
echo '{"architectures": ["GPTNeoXForCausalLM"]}' >"$tmp/m/config.json"
expect_error unknown-arch "unsupported architecture 'GPTNeoXForCausalLM'" info --model "$tmp/m"
echo '{"architectures": ["LlamaForCausalLM"], "hidden_size": 8, "intermediate_size": 8,
 "num_hidden_layers": 1, "num_attention_heads": 2, "vocab_size": 4}' >"$tmp/m/config.json"
expect_error no-weights "model.safetensors" info --model "$tmp/m"
printf '\x10\x00\x00\x00\x00\x00\x00\x00{"a":' >"$tmp/m/model.safetensors"
expect_error corrupt-safetensors "model.safetensors" info --model "$tmp/m"
printf '\xff\xff\xff\xff\x00\x00\x00\x00' >"$tmp/m/model.safetensors"
expect_error truncated-safetensors "model.safetensors" info --model "$tmp/m"
expect_error no-tokenizer "tokenizer.json" tokenize --model "$tmp/m" --text hi
echo '{"model": {"type": "WordPiece"}}' >"$tmp/m/tokenizer.json"
expect_error bad-tokenizer "WordPiece" tokenize --model "$tmp/m" --text hi
expect_error bad-gguf "GGUF" import-gguf --gguf "$tmp/m/config.json" --out "$tmp/out"
[ ! -e "$tmp/out" ] || { echo "FAIL bad-gguf left an output folder"; fails=$((fails + 1)); }
expect_error verify-no-manifest "no manifest.json" verify "$tmp/m"
expect_error verify-missing "no such file" verify "$tmp/nope"
expect_error verify-not-gguf "GGUF" verify "$tmp/m/config.json"
expect_error export-format "only gguf" export --model "$tmp/m" --format onnx --out "$tmp/x.gguf"
expect_error export-no-weights "model.safetensors" export --model "$tmp/m" --out "$tmp/x.gguf"
[ ! -e "$tmp/x.gguf" ] || { echo "FAIL export left a file"; fails=$((fails + 1)); }

# compress: bad options are refused before any work, and nothing is written.
model="$(cd "$(dirname "$0")/../.." && pwd)/models/smollm2-135m-instruct"
if [ -f "$model/config.json" ]; then
  c=(compress --model "$model")
  expect_error unknown-scheme "W5A16" "${c[@]}" --scheme W5A16 --method rtn --out "$tmp/c1"
  expect_error group-not-dividing "group size 100" "${c[@]}" --scheme W4A16 --group-size 100 --method rtn --out "$tmp/c1"
  expect_error default-g128-on-576 "does not divide" "${c[@]}" --scheme W4A16 --method rtn --out "$tmp/c1"
  echo "To be, or not to be" >"$tmp/short.txt"
  expect_error short-calibration "fewer than --samples" "${c[@]}" --method gptq --calib "$tmp/short.txt" --out "$tmp/c1"
  expect_error gptq-needs-calib "--calib" "${c[@]}" --method gptq --out "$tmp/c1"
  expect_error bad-sparsity "--sparsity" "${c[@]}" --scheme DENSE --method magnitude --sparsity 4:2 --out "$tmp/c1"
  expect_error ggml-rule-asym "scale rule ggml applies to symmetric" "${c[@]}" --scheme W4A16_ASYM --group-size 32 --scale-rule ggml --method rtn --out "$tmp/c1"
  expect_error ggml-rule-w8a8 "weight-only schemes" "${c[@]}" --scheme W8A8 --scale-rule ggml --method rtn --out "$tmp/c1"
  expect_error bad-regex "regular expression" "${c[@]}" --method rtn --scheme W8A16 --ignore 're:(' --out "$tmp/c1"
  [ ! -e "$tmp/c1" ] || { echo "FAIL compress errors left $tmp/c1"; fails=$((fails + 1)); }
  mkdir -p "$tmp/c2" && echo keep >"$tmp/c2/file"
  expect_error out-exists "pass --overwrite" "${c[@]}" --method rtn --scheme W8A16 --out "$tmp/c2"
  [ "$(cat "$tmp/c2/file")" = keep ] || { echo "FAIL out-exists touched the folder"; fails=$((fails + 1)); }
else
  echo "note: $model missing; compress cases skipped"
fi

expect_error loadtest-json "--json: cannot write" loadtest --url http://127.0.0.1:1 --concurrency 1 --requests 1 \
  --json "$tmp/nope/x.json"

# report: a bad --schemes entry and an existing --out are refused before any work; nothing is written.
printf 'some text\n' >"$tmp/wiki.txt"
printf 'ctx\n1\na\nb\nc\nd\n' >"$tmp/hs.txt"
r=(report --model "$tmp/m" --text "$tmp/wiki.txt" --hellaswag "$tmp/hs.txt")
expect_error report-bad-scheme "'W5A16'" "${r[@]}" --schemes F32,W5A16 --out "$tmp/r1"
expect_error report-bad-group ":gN" "${r[@]}" --schemes F32,W4A16:64 --out "$tmp/r1"
[ ! -e "$tmp/r1" ] || { echo "FAIL report errors left $tmp/r1"; fails=$((fails + 1)); }
mkdir -p "$tmp/r2" && echo keep >"$tmp/r2/file"
expect_error report-out-exists "pass --overwrite" "${r[@]}" --schemes F32,W8A16 --out "$tmp/r2"
[ "$(cat "$tmp/r2/file")" = keep ] || { echo "FAIL report out-exists touched the folder"; fails=$((fails + 1)); }

# Usage errors come from the flag parser (CLI11: its own non-zero codes), never a crash (>= 128).
"$bin" generate >/dev/null 2>&1; rc=$?
if [ "$rc" -ge 128 ] || [ "$rc" -eq 0 ]; then echo "FAIL usage: exit $rc"; fails=$((fails + 1)); else passes=$((passes + 1)); fi

echo "cli errors: $passes passed, $fails failed"
[ "$fails" -eq 0 ]

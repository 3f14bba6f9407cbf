#!/usr/bin/env bash
# Makes (once) a venv with PyPI llm-compressor (CPU) for the interop check: llm-compressor writes a
# compressed-tensors folder from our model, and quanta runs it. Prints the venv's python path.
# Never part of the C++ build.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
venv="$root/build/venv-llmc"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import llmcompressor, compressed_tensors" 2>/dev/null; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --upgrade pip >&2
  "$venv/bin/pip" install -q "torch==2.13.0" "llmcompressor==0.14.0.1" >&2
fi
echo "$venv/bin/python"

#!/usr/bin/env bash
# Makes (once) the Python venv used only by the reference checks: PyPI torch + transformers + gguf.
# Never part of the C++ build. Prints the venv's python path.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
venv="$root/build/venv-ref"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import torch, transformers, gguf, accelerate" 2>/dev/null; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --upgrade pip >&2
  "$venv/bin/pip" install -q "torch==2.13.0" "transformers==5.17.0" "gguf==0.19.0" "accelerate==1.15.0" numpy safetensors sentencepiece protobuf jinja2 >&2
fi
echo "$venv/bin/python"

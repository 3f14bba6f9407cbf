#!/usr/bin/env bash
# Builds llama.cpp (CPU only) as a peer for interop and speed checks, outside every repository.
# Idempotent: each step is skipped when its output is already there.
#   1. pip download --no-binary :all: llama-cpp-python==$LLAMA_CPP_PY_VERSION (the sdist vendors llama.cpp)
#   2. unpack it under $QUANTA_PEERS_DIR/llama.cpp/src
#   3. cmake build of vendor/llama.cpp (Release, no CURL/tests/examples/server, CPU) -> $QUANTA_PEERS_DIR/llama.cpp/bin
# Environment: QUANTA_PEERS_DIR (default /work/peers), PYTHON (default python3), JOBS (default 2),
# LLAMA_CPP_NO_AMX=1: compile ggml without Intel AMX (-mno-amx-*; GGML_NATIVE would otherwise use it
# where the CPU has it): in 0.3.36 its AMX matmul dies with SIGILL at its first tileloadd on a Xeon
# whose AMX quanta's kernels use (Linux 6.18 VM, 2026-12-05), for Q8_0 and Q4_0 prefill.
# Prints the bin directory on its last line.
set -euo pipefail

version=${LLAMA_CPP_PY_VERSION:-0.3.36}
peers=${QUANTA_PEERS_DIR:-/work/peers}
base="$peers/llama.cpp"
cache="$base/cache"
src_root="$base/src"
build="$base/build"
bin="$base/bin"
python=${PYTHON:-python3}
jobs=${JOBS:-2}
# llama-cli needs the server library in this llama.cpp; llama-completion is its plain CLI.
tools=(llama-simple llama-completion llama-perplexity llama-quantize llama-bench llama-tokenize)

log() { echo "llama_cpp.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

have_all() {
  for t in "${tools[@]}"; do [ -x "$bin/$t" ] || return 1; done
}

if have_all; then
  log "binaries present in $bin"
  echo "$bin"
  exit 0
fi

mkdir -p "$cache" "$src_root"
sdist=$(ls "$cache"/llama_cpp_python-"$version".tar.gz 2>/dev/null || true)
if [ -z "$sdist" ]; then
  log "downloading llama-cpp-python==$version sdist"
  # --no-binary for this package only: with :all: pip would also build every build dependency
  # (scikit-build-core, setuptools, ...) from source just to read the sdist's metadata.
  "$python" -m pip download --no-binary llama-cpp-python --no-deps -d "$cache" \
    "llama-cpp-python==$version" >&2
  sdist=$(ls "$cache"/llama_cpp_python-"$version".tar.gz) || die "sdist not found in $cache"
fi

src="$src_root/llama_cpp_python-$version"
if [ ! -f "$src/vendor/llama.cpp/CMakeLists.txt" ]; then
  log "unpacking $sdist"
  rm -rf "$src"
  tar -xzf "$sdist" -C "$src_root"
  [ -f "$src/vendor/llama.cpp/CMakeLists.txt" ] || die "$sdist has no vendor/llama.cpp"
fi

no_amx=()
if [ "${LLAMA_CPP_NO_AMX:-0}" = 1 ]; then
  no_amx=("-DCMAKE_C_FLAGS=-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
          "-DCMAKE_CXX_FLAGS=-mno-amx-tile -mno-amx-int8 -mno-amx-bf16")
fi
log "configuring $build"
cmake -S "$src/vendor/llama.cpp" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
  -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=ON -DLLAMA_BUILD_SERVER=OFF \
  -DLLAMA_BUILD_TOOLS=ON -DGGML_NATIVE=ON -DGGML_CUDA=OFF -DGGML_METAL=OFF -DGGML_VULKAN=OFF \
  -DGGML_OPENMP=ON "${no_amx[@]}" >&2

# Build only the targets we use; a version that lacks one of them is an error.
all_targets=$(ninja -C "$build" -t targets all 2>/dev/null | cut -d: -f1)
targets=()
for t in "${tools[@]}"; do
  grep -qx "bin/$t" <<<"$all_targets" || die "$t is not a target of this llama.cpp"
  targets+=("$t")
done
log "building ${targets[*]} with -j$jobs"
cmake --build "$build" -j "$jobs" --target "${targets[@]}" >&2

mkdir -p "$bin"
for t in "${targets[@]}"; do
  cp -f "$build/bin/$t" "$bin/$t"
done
"$bin/llama-completion" --version >&2 2>&1 || true
log "done: ${targets[*]}"
echo "$bin"

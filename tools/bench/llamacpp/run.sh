#!/usr/bin/env bash
# Runs the whole CPU benchmark against llama.cpp and writes OUT/results.json and OUT/results.md
# (the table for README.md's "CPU performance vs llama.cpp" section). Not a test: it takes about
# half an hour on a 2-core machine. See bench.py for what is measured and how.
#   tools/bench/llamacpp/run.sh [bench.py options, e.g. --runs 5 --skip batched --precisions F32]
# Environment: BENCH_BUILD (a CMake build folder with llmc, llmrt, membw; default build),
#   BENCH_VENV (setup.sh's venv; default build/bench-venv), BENCH_OUT (default build/bench-llamacpp),
#   LLAMA_SERVER (a llama-server binary; default: the venv's, else llama_cpp.server).
set -euo pipefail
cd "$(dirname "$0")/../../.."
BUILD=${BENCH_BUILD:-$(pwd)/build}
VENV=${BENCH_VENV:-$(pwd)/build/bench-venv}
OUT=${BENCH_OUT:-$(pwd)/build/bench-llamacpp}
BENCH_VENV=$VENV tools/bench/llamacpp/setup.sh >/dev/null
ninja -C "$BUILD" llmc llmrt membw >/dev/null
SERVER=${LLAMA_SERVER:-}
[ -z "$SERVER" ] && [ -x "$VENV/bin/llama-server" ] && SERVER=$VENV/bin/llama-server
mkdir -p "$OUT"
SOURCE=$(tools/fetch-default-model.sh)
"$VENV/bin/python" tools/bench/llamacpp/make_models.py "$SOURCE" "$OUT/models" >"$OUT/models.json" 2>"$OUT/models.log"
exec "$VENV/bin/python" tools/bench/llamacpp/bench.py --llmc "$BUILD/compiler/llmc" \
  --llmrt "$BUILD/runtime/llmrt" --membw "$BUILD/runtime/membw" --models "$OUT/models.json" \
  --text test/fixtures/perplexity/pride-and-prejudice.txt --out "$OUT" \
  ${SERVER:+--llama-server "$SERVER"} "$@"

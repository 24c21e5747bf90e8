#!/usr/bin/env bash
# Builds the libFuzzer targets of test/fuzz with clang (ASan + UBSan) and runs each one.
#   tools/fuzz.sh               each target for 60 s (FUZZ_SECONDS to change)
#   tools/fuzz.sh --smoke       each target for a fixed, seeded number of runs (what ctest runs)
# The project itself builds with GCC; only these targets use clang.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${FUZZ_BUILD_DIR:-build/fuzz}
CXX=${FUZZ_CXX:-clang++-14}
mkdir -p "$OUT"
FLAGS=(-std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -Icompiler -Iruntime)
COMMON=(runtime/support/MappedFile.cpp compiler/import/Safetensors.cpp)

build() { # name sources...
  local name=$1; shift
  if [ ! -x "$OUT/$name" ] || [ -n "$(find "$@" test/fuzz -newer "$OUT/$name" -name '*.*' | head -1)" ]; then
    "$CXX" "${FLAGS[@]}" "$@" -lfmt -o "$OUT/$name"
  fi
}

build safetensors_fuzz test/fuzz/safetensors_fuzz.cpp "${COMMON[@]}"
build gguf_fuzz test/fuzz/gguf_fuzz.cpp compiler/import/GGUF.cpp compiler/import/GGUFModel.cpp \
  compiler/import/WeightSource.cpp compiler/import/HFConfig.cpp "${COMMON[@]}"

if [ "${1:-}" = "--smoke" ]; then
  RUN=(-runs=${FUZZ_RUNS:-20000} -seed=1)
else
  RUN=(-max_total_time=${FUZZ_SECONDS:-60})
fi
for target in safetensors_fuzz gguf_fuzz; do
  # Smoke runs start from the committed seeds only, so they are repeatable.
  corpus="$OUT/corpus-$target"
  [ "${1:-}" = "--smoke" ] && rm -rf "$corpus"
  mkdir -p "$corpus"
  log="$OUT/$target.log"
  if "$OUT/$target" "${RUN[@]}" -rss_limit_mb=2048 "$corpus" test/fixtures/gguf \
      test/fixtures/tiny/llama-gqa >"$log" 2>&1; then
    echo "fuzz: $target: $(grep -E '^Done [0-9]+ runs' "$log" || tail -n 1 "$log")"
  else
    echo "fuzz: $target FAILED (log: $log)"; tail -n 40 "$log"; exit 1
  fi
done

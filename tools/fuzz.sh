#!/usr/bin/env bash
# Builds the libFuzzer targets of test/fuzz with clang (ASan + UBSan) and runs each one.
#   tools/fuzz.sh               each target for 60 s (FUZZ_SECONDS to change)
#   tools/fuzz.sh --smoke       each target for a fixed, seeded number of runs (what ctest runs)
# The project itself builds with GCC; only these targets use clang. Targets build and run
# FUZZ_JOBS at a time (default: the number of cores).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${FUZZ_BUILD_DIR:-build/fuzz}
CXX=${FUZZ_CXX:-clang++-14}
mkdir -p "$OUT"
FLAGS=(-std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -Icompiler -Iruntime)
COMMON=(runtime/support/MappedFile.cpp runtime/support/PageMemory.cpp compiler/import/Safetensors.cpp)
JOBS=${FUZZ_JOBS:-$(nproc)}
PIDS=()

# Runs "$@" in the background once fewer than JOBS jobs run.
spawn() {
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
  "$@" &
  PIDS+=($!)
}
# Waits for every spawned job; fails if any failed.
join() {
  local failed=0
  for pid in "${PIDS[@]}"; do wait "$pid" || failed=1; done
  PIDS=()
  return $failed
}

build() { # name sources-and-libraries...
  local name=$1; shift
  local sources=()
  for a in "$@"; do [ -f "$a" ] && sources+=("$a"); done
  if [ ! -x "$OUT/$name" ] || [ -n "$(find "${sources[@]}" test/fuzz -newer "$OUT/$name" -name '*.*' | head -1)" ]; then
    "$CXX" "${FLAGS[@]}" "$@" -lfmt -o "$OUT/$name"
  fi
}

spawn build safetensors_fuzz test/fuzz/safetensors_fuzz.cpp "${COMMON[@]}"
spawn build gguf_fuzz test/fuzz/gguf_fuzz.cpp compiler/import/GGUF.cpp compiler/import/GGUFModel.cpp \
  compiler/import/WeightSource.cpp compiler/import/HFConfig.cpp compiler/import/QuantizationConfig.cpp \
  compiler/import/PackedInt4.cpp runtime/plan/QuantFormat.cpp "${COMMON[@]}"

spawn build tokenizer_fuzz test/fuzz/tokenizer_fuzz.cpp \
  $(ls runtime/tokenizer/*.cpp | grep -v PlanTokenizer) \
  runtime/support/MappedFile.cpp runtime/support/PageMemory.cpp -lpcre2-8 -lutf8proc -lxxhash
spawn build openai_request_fuzz test/fuzz/openai_request_fuzz.cpp runtime/server/OpenAIRequest.cpp \
  runtime/server/OpenAIResponse.cpp
spawn build chat_template_fuzz test/fuzz/chat_template_fuzz.cpp runtime/chat/*.cpp -lutf8proc
join || { echo "fuzz: a target failed to build"; exit 1; }

if [ "${1:-}" = "--smoke" ]; then
  RUN=(-runs=${FUZZ_RUNS:-20000} -seed=1)
else
  RUN=(-max_total_time=${FUZZ_SECONDS:-60})
fi
run_target() {
  local target=$1
  # Smoke runs start from the committed seeds only, so they are repeatable.
  local corpus="$OUT/corpus-$target"
  [ "$MODE" = "--smoke" ] && rm -rf "$corpus"
  mkdir -p "$corpus"
  local log="$OUT/$target.log"
  local seeds=(test/fixtures/gguf test/fixtures/tiny/llama-gqa)
  local extra=()
  # Tokenizer inputs are kept short: loading a whole tokenizer.json per input is slow.
  [ "$target" = tokenizer_fuzz ] && seeds=(test/fuzz/tokenizer-seeds) && extra=(-max_len=4096)
  # Each tokenizer input loads a whole tokenizer (tens of ms): a quarter of the runs in smoke mode.
  [ "$target" = tokenizer_fuzz ] && [ "$MODE" = "--smoke" ] && extra+=(-runs=$(( ${FUZZ_RUNS:-20000} / 4 )))
  [ "$target" = openai_request_fuzz ] && seeds=(test/fuzz/openai-request-seeds) && extra=(-max_len=4096)
  [ "$target" = chat_template_fuzz ] && seeds=(test/fuzz/chat-template-seeds) && extra=(-max_len=16384)
  if "$OUT/$target" "${RUN[@]}" "${extra[@]}" -rss_limit_mb=2048 "$corpus" "${seeds[@]}" \
      >"$log" 2>&1; then
    echo "fuzz: $target: $(grep -E '^Done [0-9]+ runs' "$log" || tail -n 1 "$log")"
  else
    echo "fuzz: $target FAILED (log: $log)"; tail -n 40 "$log"; return 1
  fi
}
MODE=${1:-}
for target in safetensors_fuzz gguf_fuzz tokenizer_fuzz openai_request_fuzz chat_template_fuzz; do
  spawn run_target "$target"
done
join

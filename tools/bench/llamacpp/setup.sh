#!/usr/bin/env bash
# Builds the benchmark peer: llama.cpp through the PyPI package llama-cpp-python, compiled from source
# for this CPU (GGML_NATIVE, OpenMP threads, no BLAS), in a venv outside the source tree. Also installs
# the gguf package (model conversion), and builds llama.cpp's own server (llama-server, with parallel
# slots and continuous batching; llama_cpp.server serves one request at a time) from the llama.cpp
# source vendored in the same package, with the same flags, into VENV/bin. Idempotent; the compiles
# take tens of minutes on a 2-core machine. Records the versions in VENV/versions.json.
#   tools/bench/llamacpp/setup.sh            (venv: $BENCH_VENV, default build/bench-venv)
# NOTE: the peer is only measured against; nothing of it enters the repository.
set -euo pipefail
cd "$(dirname "$0")/../../.."
VENV=${BENCH_VENV:-$(pwd)/build/bench-venv}
LLAMA_CPP_PYTHON=0.3.36
GGUF=0.19.0
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
fi
PY="$VENV/bin/python"
have() { "$PY" -c "import importlib.metadata as m, sys; sys.exit(m.version('$1') != '$2')" 2>/dev/null; }
if ! have llama_cpp_python "$LLAMA_CPP_PYTHON"; then
  echo "building llama-cpp-python==$LLAMA_CPP_PYTHON from source (native CPU, OpenMP, no BLAS)" >&2
  CMAKE_ARGS="-DGGML_NATIVE=ON -DGGML_OPENMP=ON -DGGML_BLAS=OFF -DGGML_CUDA=OFF -DGGML_METAL=OFF -DGGML_VULKAN=OFF -DCMAKE_BUILD_TYPE=Release" \
  CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-2} FORCE_CMAKE=1 \
    "$PY" -m pip install --disable-pip-version-check --no-cache-dir --no-binary llama-cpp-python \
      --verbose "llama-cpp-python[server]==$LLAMA_CPP_PYTHON" >"$VENV/llama-cpp-build.log" 2>&1 ||
    { tail -40 "$VENV/llama-cpp-build.log" >&2; exit 1; }
fi
if [ ! -x "$VENV/bin/llama-server" ]; then
  SRC="$VENV/sdist/llama_cpp_python-$LLAMA_CPP_PYTHON"
  if [ ! -d "$SRC" ]; then
    "$PY" -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
      "llama-cpp-python==$LLAMA_CPP_PYTHON" -d "$VENV/sdist"
    tar xzf "$VENV/sdist/llama_cpp_python-$LLAMA_CPP_PYTHON.tar.gz" -C "$VENV/sdist"
  fi
  echo "building llama-server from llama-cpp-python==$LLAMA_CPP_PYTHON's llama.cpp" >&2
  cmake -S "$SRC/vendor/llama.cpp" -B "$VENV/llama-server-build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DGGML_NATIVE=ON -DGGML_OPENMP=ON -DGGML_BLAS=OFF -DGGML_CUDA=OFF -DLLAMA_CURL=OFF \
    -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_UI=OFF \
    -DBUILD_SHARED_LIBS=OFF >"$VENV/llama-server-build.log" 2>&1
  cmake --build "$VENV/llama-server-build" --target llama-server -j "${CMAKE_BUILD_PARALLEL_LEVEL:-2}" \
    >>"$VENV/llama-server-build.log" 2>&1 || { tail -40 "$VENV/llama-server-build.log" >&2; exit 1; }
  cp "$VENV/llama-server-build/bin/llama-server" "$VENV/bin/llama-server"
fi
have gguf "$GGUF" || "$PY" -m pip install --quiet --disable-pip-version-check "gguf==$GGUF" numpy
"$PY" - "$VENV/versions.json" <<'PY'
import importlib.metadata as m, json, sys
import llama_cpp
info = {p: m.version(p) for p in ("llama_cpp_python", "gguf", "numpy")}
info["llama_server"] = __import__("subprocess").run(
    [sys.argv[1].rsplit("/", 1)[0] + "/bin/llama-server", "--version"], capture_output=True,
    text=True).stderr.strip().splitlines()[-2:]
info["llama_cpp_system_info"] = llama_cpp.llama_print_system_info().decode()
json.dump(info, open(sys.argv[1], "w"), indent=1)
print(json.dumps(info))
PY

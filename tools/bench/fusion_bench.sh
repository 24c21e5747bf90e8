#!/usr/bin/env bash
# Fused plan against the unfused plan (--no-fusion) of the same model, same run: prefill and decode
# tokens/s of `llmrt generate`, runs alternated (A, B, A, B, ...) so load changes hit both, medians
# and their ratio reported. A benchmark, not a test.
#   tools/bench/fusion_bench.sh [MODEL] [RUNS]     (default: the default model, 5 runs each)
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD_DIR:-build}
MODEL=${1:-$(tools/fetch-default-model.sh)}
RUNS=${2:-5}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
"$BUILD/compiler/llmc" compile "$MODEL" -q -o "$OUT/fused/plan.fb"
"$BUILD/compiler/llmc" compile "$MODEL" -q --no-fusion -o "$OUT/unfused/plan.fb"
# A 128-token prompt of ordinary token ids (the same for both plans), 64 tokens generated.
IDS=$(python3 -c "print(','.join(str(100 + (i * 37) % 900) for i in range(128)))")
for i in $(seq "$RUNS"); do
  for v in fused unfused; do
    "$BUILD/runtime/llmrt" generate "$OUT/$v/plan.fb" --prompt-ids "$IDS" --max-tokens 64 \
      2>&1 >/dev/null | tail -n 1 | sed "s/^/$v: /" >> "$OUT/log"
  done
done
python3 - "$OUT/log" <<'PY'
import re, statistics, sys
rows = {"fused": {"prefill": [], "decode": []}, "unfused": {"prefill": [], "decode": []}}
for line in open(sys.argv[1]):
    v = line.split(":")[0]
    rows[v]["prefill"].append(float(re.search(r"prefill: ([\d.]+)", line).group(1)))
    rows[v]["decode"].append(float(re.search(r"decode: ([\d.]+)", line).group(1)))
for what in ("prefill", "decode"):
    f, u = statistics.median(rows["fused"][what]), statistics.median(rows["unfused"][what])
    print(f"{what:8s} fused {f:8.1f} tok/s   unfused {u:8.1f} tok/s   fused/unfused {f / u:.2f}x")
PY

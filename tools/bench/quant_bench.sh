#!/usr/bin/env bash
# One model at several weight precisions, same run: the float32 plan (--quant none), the GGUF's own
# blocks (--quant keep: Q4_1 + Q8_0 for the default model), q8_0, q4_0 and w8. Prefill and decode
# tokens/s of `llmrt generate` (128-token prompt, 64 new tokens), runs alternated so load changes
# hit every plan, medians and ratios to float32 reported. A benchmark, not a test.
#   tools/bench/quant_bench.sh [MODEL] [RUNS]     (default: the default model, 5 runs each)
# THREADS=N sets llmrt's --threads (default 0: all cores; on a shared machine, 1 avoids stalls).
# QUANT_VARIANTS="none q4_0 w4g128 fp8" picks other --quant values (none first).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD_DIR:-build}
MODEL=${1:-$(tools/fetch-default-model.sh)}
RUNS=${2:-5}
THREADS=${THREADS:-0}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
VARIANTS=${QUANT_VARIANTS:-none keep q8_0 q4_0 w8} # none first: the ratios are to it
for v in $VARIANTS; do
  "$BUILD/compiler/llmc" compile "$MODEL" -q --quant "$v" -o "$OUT/$v/plan.fb"
done
IDS=$(python3 -c "print(','.join(str(100 + (i * 37) % 900) for i in range(128)))")
for i in $(seq "$RUNS"); do
  for v in $VARIANTS; do
    "$BUILD/runtime/llmrt" generate "$OUT/$v/plan.fb" --prompt-ids "$IDS" --max-tokens 64 --threads "$THREADS" \
      2>&1 >/dev/null | tail -n 1 | sed "s/^/$v: /" >> "$OUT/log"
  done
done
python3 - "$OUT/log" $VARIANTS <<'PY'
import re, statistics, sys
variants = sys.argv[2:]
rows = {v: {"prefill": [], "decode": []} for v in variants}
for line in open(sys.argv[1]):
    v = line.split(":")[0]
    for what in ("prefill", "decode"):
        rows[v][what].append(float(re.search(what + r": ([\d.]+)", line).group(1)))
for what in ("prefill", "decode"):
    base = statistics.median(rows["none"][what])
    cells = [f"{v} {statistics.median(rows[v][what]):7.1f} ({statistics.median(rows[v][what]) / base:.2f}x)"
             for v in variants]
    print(f"{what:8s} tok/s: " + "   ".join(cells))
PY

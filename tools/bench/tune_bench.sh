#!/usr/bin/env bash
# Tuned plan against the default plan of the same model: `llmc tune` writes a tuning database
# (its time is reported), both plans are compiled, and `llmrt generate` runs alternate (default,
# tuned, default, ...) so load changes hit both; prefill and decode tokens/s medians and their
# ratio are reported. A benchmark, not a test.
#   tools/bench/tune_bench.sh [MODEL] [RUNS] [BUDGET_SECONDS] [TOKENS]
#   (defaults: the default model, 7 runs each, no budget, tokens 1,8,64,512)
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD_DIR:-build}
MODEL=${1:-$(tools/fetch-default-model.sh)}
RUNS=${2:-7}
BUDGET=${3:-0}
TOKENS=${4:-1,8,64,512}
OUT=${OUT_DIR:-$(mktemp -d)}
mkdir -p "$OUT"
rm -f "$OUT/tuning.json" "$OUT/log"
start=$(date +%s.%N)
"$BUILD/compiler/llmc" tune "$MODEL" --target cpu -o "$OUT/tuning.json" --budget "$BUDGET" \
  --tokens "$TOKENS" 2> "$OUT/tune.log" || true
end=$(date +%s.%N)
tail -n 3 "$OUT/tune.log"
python3 -c "print(f'tuning time {($end - $start):.1f} s (wall, including the model import)')"
# The tunables belong to the float32 kernels (quantized kernels take none yet): float32 plans.
"$BUILD/compiler/llmc" compile "$MODEL" --quant none -q -o "$OUT/default/plan.fb"
"$BUILD/compiler/llmc" compile "$MODEL" --quant none --tuning-db "$OUT/tuning.json" -o "$OUT/tuned/plan.fb" \
  2>&1 | grep tuning
# A 128-token prompt of ordinary token ids (the same for both plans), 64 tokens generated.
IDS=$(python3 -c "print(','.join(str(100 + (i * 37) % 900) for i in range(128)))")
for i in $(seq "$RUNS"); do
  for v in default tuned; do
    "$BUILD/runtime/llmrt" generate "$OUT/$v/plan.fb" --prompt-ids "$IDS" --max-tokens 64 \
      2>&1 >"$OUT/$v.out" | tail -n 1 | sed "s/^/$v: /" >> "$OUT/log"
  done
done
cmp -s "$OUT/default.out" "$OUT/tuned.out" && echo "same tokens from both plans" ||
  echo "WARNING: the plans generated different tokens"
python3 - "$OUT/log" <<'PY'
import re, statistics, sys
rows = {"default": {"prefill": [], "decode": []}, "tuned": {"prefill": [], "decode": []}}
for line in open(sys.argv[1]):
    v = line.split(":")[0]
    rows[v]["prefill"].append(float(re.search(r"prefill: ([\d.]+)", line).group(1)))
    rows[v]["decode"].append(float(re.search(r"decode: ([\d.]+)", line).group(1)))
for what in ("prefill", "decode"):
    d, t = statistics.median(rows["default"][what]), statistics.median(rows["tuned"][what])
    print(f"{what:8s} default {d:8.1f} tok/s   tuned {t:8.1f} tok/s   tuned/default {t / d:.3f}x")
PY

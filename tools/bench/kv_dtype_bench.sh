#!/usr/bin/env bash
# One plan, each KV cache dtype (llmrt --kv-cache-dtype f32|bf16|fp8_e4m3), same run: perplexity
# on the test text (llmrt perplexity, windows of 512), offline batched throughput (llmrt bench,
# 32 requests, a 1 GiB KV budget: blocks per GiB and output tokens/s) and single-stream decode at
# a long context (llmrt generate, a 1024-token prompt, 64 new tokens). Runs alternated so load
# changes hit every dtype; medians and ratios to f32. A benchmark, not a test.
#   tools/bench/kv_dtype_bench.sh [MODEL] [RUNS]     (default: the default model, 3 runs each)
# THREADS (default 2) is passed to every run; REQUESTS (32) and PROMPT (1024) size the bench and
# generate runs; PPL=0 skips perplexity (deterministic: one run per dtype).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD_DIR:-build}
MODEL=${1:-$(tools/fetch-default-model.sh)}
RUNS=${2:-3}
THREADS=${THREADS:-2}
REQUESTS=${REQUESTS:-32}
PROMPT=${PROMPT:-1024}
PPL=${PPL:-1}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
DTYPES="f32 bf16 fp8_e4m3" # f32 first: the ratios are to it
"$BUILD/compiler/llmc" compile "$MODEL" -q -o "$OUT/plan.fb"
TEXT=test/fixtures/perplexity/pride-and-prejudice.txt
for d in $DTYPES; do
  [ "$PPL" = 0 ] && break
  "$BUILD/runtime/llmrt" perplexity "$OUT/plan.fb" --text "$TEXT" --context 512 --json \
    --threads "$THREADS" --kv-cache-dtype "$d" 2>/dev/null | sed "s/^/ppl $d: /" >> "$OUT/log"
done
IDS=$(python3 -c "print(','.join(str(100 + (i * 37) % 900) for i in range($PROMPT)))")
for i in $(seq "$RUNS"); do
  for d in $DTYPES; do
    "$BUILD/runtime/llmrt" bench "$OUT/plan.fb" --num-requests "$REQUESTS" --kv-cache-memory 1G \
      --threads "$THREADS" --kv-cache-dtype "$d" | tr '\n' ' ' | sed "s/^/bench $d: /;s/$/\n/" \
      >> "$OUT/log"
    "$BUILD/runtime/llmrt" generate "$OUT/plan.fb" --prompt-ids "$IDS" --max-tokens 64 \
      --ignore-eos --threads "$THREADS" --kv-cache-dtype "$d" 2>&1 >/dev/null | tail -n 1 |
      sed "s/^/generate $d: /" >> "$OUT/log"
  done
done
python3 - "$OUT/log" $DTYPES <<'PY'
import json, re, statistics, sys
dtypes = sys.argv[2:]
ppl, blocks, out_tps, tpot, decode = {}, {}, {d: [] for d in dtypes}, {d: [] for d in dtypes}, {d: [] for d in dtypes}
for line in open(sys.argv[1]):
    kind, d, rest = re.match(r"(\w+) (\w+): (.*)", line).groups()
    if kind == "ppl":
        ppl[d] = json.loads(rest)["perplexity"]
    elif kind == "bench":
        blocks[d] = int(re.search(r"KV blocks used \(peak\): +\d+ of (\d+)", rest).group(1))
        out_tps[d].append(float(re.search(r"output tokens/s: +([\d.]+)", rest).group(1)))
        tpot[d].append(float(re.search(r"time per output token: +mean ([\d.]+) ms", rest).group(1)))
    else:
        decode[d].append(float(re.search(r"decode: ([\d.]+)", rest).group(1)))
med = statistics.median
print("| KV cache dtype | KV blocks of 16 per GiB | perplexity (vs f32) | bench output tok/s (vs f32) | bench TPOT ms | long-prompt decode tok/s (vs f32) |")
print("|---|---|---|---|---|---|")
for d in dtypes:
    p = f"{ppl[d]:.4f} ({100 * (ppl[d] / ppl['f32'] - 1):+.2f}%)" if ppl else "-"
    print(f"| {d} | {blocks[d]} | {p} | "
          f"{med(out_tps[d]):.1f} ({med(out_tps[d]) / med(out_tps['f32']):.2f}x) | {med(tpot[d]):.1f} | "
          f"{med(decode[d]):.1f} ({med(decode[d]) / med(decode['f32']):.2f}x) |")
PY

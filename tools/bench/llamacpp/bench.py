#!/usr/bin/env python3
"""CPU performance of our plans against llama.cpp (llama-cpp-python, built by setup.sh), same
machine, same run, same files, same thread count. Run by run.sh; writes DIR/results.json and
DIR/results.md. Every comparison alternates the two engines (ours, theirs, ours, ...) after a
warm-up of each, and reports medians and their ratio ours/llama.cpp.

Measured, per precision (make_models.py: F32, Q8_0, Q4_0, Q4_1, Q4_K_M GGUFs of the default
model):
  single stream  a 512-token prompt (the first 512 tokens of the perplexity text) then 128 decode
                 steps: prompt tokens/s = 512 / time of the prompt step; decode tokens/s = 128 /
                 time of the 128 single-token steps (greedy sampling included, eos ignored).
                 Ours: `llmrt generate --prompt-ids ... --max-tokens 129 --ignore-eos` (129
                 sampled tokens = 128 decode steps), its own timers. llama.cpp: llama_decode of a
                 512-token batch, then 128 llama_decode calls of one token, argmax in numpy.
  bandwidth      decode tokens/s / (membw GB/s / bytes read per token) per run, the median
                 over the runs: membw is sampled before every single-stream run and after the
                 last, and a run's limit uses the mean of the samples just before and after it
                 (the machine is a shared host whose bandwidth moves between 31 and 68 GB/s
                 within minutes, so a share against a median over the whole row said more about
                 the hour than about the engine), where the bytes read per token are every weight tensor in the file the engine
                 runs (the tied embedding counted once: it is read whole as the output matrix)
                 plus the KV cache the
                 step attends to: layers x 2 x kv heads x head dim x the engine's KV element
                 size x the positions, averaged over the decode steps (prompt + 1 .. prompt +
                 steps: 11,520 values per position for the default model, 13-15 MB per token
                 at 16 bits). `bandwidth_fraction_weights_only` leaves the KV cache out.
  KV cache       both engines keep a 16-bit KV cache: llama.cpp its default f16, ours bf16
                 (`--kv-cache-dtype`, default bf16; the plans' own default is f32).
  perplexity     `llmrt perplexity --context 512` and the same windows through llama.cpp (a
                 512-token batch with outputs on the scored rows, log-softmax in float64).
  batched        `llmrt bench-serve` (the same seeded workload, /v1/completions with token-id
                 prompts, ignore_eos) against `llmrt serve` and against llama.cpp's server with
                 as many slots as concurrent requests, at 16 and 64 concurrent requests.
"""
import argparse
import ctypes
import json
import os
import pathlib
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import time

import numpy as np

import llama_cpp as L

HERE = pathlib.Path(__file__).resolve().parent


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- llama.cpp (low-level API)
@L.llama_log_callback
def _quiet_log(level, text, user_data):  # llama.cpp's load and context logs are not results
    pass


class LlamaRunner:
    def __init__(self, path: str, threads: int, n_ctx: int, n_batch: int = 512):
        mp = L.llama_model_default_params()
        self.model = L.llama_model_load_from_file(path.encode(), mp)
        if not self.model:
            raise SystemExit(f"llama.cpp cannot load {path}")
        cp = L.llama_context_default_params()
        cp.n_ctx, cp.n_batch, cp.n_ubatch = n_ctx, n_batch, n_batch
        cp.n_threads, cp.n_threads_batch = threads, threads
        if hasattr(cp, "n_outputs_max"):
            cp.n_outputs_max = max(cp.n_outputs_max, n_batch)
        self.ctx = L.llama_init_from_model(self.model, cp)
        self.vocab = L.llama_model_get_vocab(self.model)
        self.n_vocab = L.llama_vocab_n_tokens(self.vocab)
        self.batch = L.llama_batch_init(n_batch, 0, 1)

    def tokenize(self, text: str) -> list[int]:
        data = text.encode()
        buf = (L.llama_token * (len(data) + 16))()
        n = L.llama_tokenize(self.vocab, data, len(data), buf, len(buf), True, False)
        return list(buf[:n])

    def clear(self):
        L.llama_memory_clear(L.llama_get_memory(self.ctx), True)

    def decode(self, tokens, start_pos: int, output_rows):
        b = self.batch
        b.n_tokens = len(tokens)
        rows = set(output_rows)
        for i, t in enumerate(tokens):
            b.token[i] = t
            b.pos[i] = start_pos + i
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = 0
            b.logits[i] = i in rows
        if L.llama_decode(self.ctx, b) != 0:
            raise SystemExit("llama_decode failed")

    def logits(self, i: int) -> np.ndarray:
        p = L.llama_get_logits_ith(self.ctx, i)
        return np.ctypeslib.as_array(p, shape=(self.n_vocab,))

    def single_stream(self, prompt: list[int], steps: int) -> dict:
        self.clear()
        t0 = time.perf_counter()
        self.decode(prompt, 0, [len(prompt) - 1])
        t1 = time.perf_counter()
        token = int(np.argmax(self.logits(-1)))
        for s in range(steps):
            self.decode([token], len(prompt) + s, [0])
            token = int(np.argmax(self.logits(-1)))
        t2 = time.perf_counter()
        return {"prefill_tps": len(prompt) / (t1 - t0), "decode_tps": steps / (t2 - t1)}

    def perplexity(self, ids: list[int], context: int, stride: int, windows: int) -> dict:
        first = context // 2
        rows = list(range(first, context - 1))
        nll, scored = 0.0, 0
        starts = list(range(0, len(ids) - context + 1, stride))
        for start in starts[: windows or None]:
            window = ids[start : start + context]
            self.clear()
            self.decode(window, 0, rows)
            for r in rows:
                x = self.logits(r).astype(np.float64)
                m = x.max()
                nll += np.log(np.exp(x - m).sum()) - (x[window[r + 1]] - m)
            scored += len(rows)
        return {"perplexity": float(np.exp(nll / scored)), "scored_tokens": scored,
                "text_tokens": len(ids)}

    def close(self):
        L.llama_batch_free(self.batch)
        L.llama_free(self.ctx)
        L.llama_model_free(self.model)


# ---------------------------------------------------------------- ours
def ours_single_stream(args, plan: str, prompt: list[int], steps: int) -> dict:
    cmd = [args.llmrt, "generate", plan, "--prompt-ids", ",".join(map(str, prompt)),
           "--max-tokens", str(steps + 1), "--ignore-eos", "--threads", str(args.threads),
           "--max-seq-len", str(len(prompt) + steps + 8), "--kv-cache-dtype", args.kv_cache_dtype]
    r = subprocess.run(cmd, capture_output=True, text=True, check=True)
    m = re.search(r"prefill: ([\d.]+) tokens/s, decode: ([\d.]+) tokens/s", r.stderr)
    if not m:
        raise SystemExit(f"unexpected llmrt generate output: {r.stderr}")
    return {"prefill_tps": float(m.group(1)), "decode_tps": float(m.group(2))}


def measure_membw(args) -> float:
    """Streaming read bandwidth now, GB/s (membw, all threads, best of its runs)."""
    r = subprocess.run([args.membw, "--json", "--runs", "5"], capture_output=True, text=True,
                       check=True)
    return float(json.loads(r.stdout)["read_gb_per_s"])


def run_shares(tps_runs: list, samples: list, first: int, bytes_per_token: float) -> list:
    """Each run's decode tokens/s over its bandwidth limit: run j against the mean of membw samples
    first + 2j and first + 2j + 1 (median_runs' order: first 0 for ours, 1 for llama.cpp)."""
    shares = []
    for j, tps in enumerate(tps_runs):
        gbps = (samples[first + 2 * j] + samples[first + 2 * j + 1]) / 2 * 1e9
        shares.append(tps / (gbps / bytes_per_token))
    return shares


def weight_bytes_gguf(path: str) -> int:
    import gguf

    return sum(int(t.n_bytes) for t in gguf.GGUFReader(path).tensors)


# Bytes per element of a KV cache dtype (fp8: its per-head f32 scale counted per element).
KV_ELEMENT_BYTES = {"f32": 4.0, "bf16": 2.0, "f16": 2.0, "fp8_e4m3": 1.0 + 4.0 / 64}


def kv_values_per_position(path: str) -> int:
    """Layers x 2 (K and V) x kv heads x head dim of a GGUF model, from its metadata."""
    import gguf

    reader = gguf.GGUFReader(path)

    def field(name):
        f = reader.fields[name]
        return int(f.parts[f.data[0]][0])

    arch = bytes(reader.fields["general.architecture"].parts[-1]).decode()
    heads = field(f"{arch}.attention.head_count")
    kv_heads = field(f"{arch}.attention.head_count_kv")
    key = f"{arch}.attention.key_length"
    head_dim = field(key) if key in reader.fields else field(f"{arch}.embedding_length") // heads
    return field(f"{arch}.block_count") * 2 * kv_heads * head_dim


def kv_bytes_per_token(values_per_position: int, element_bytes: float, prompt: int,
                       steps: int) -> float:
    """KV bytes a decode step reads, averaged over steps attending prompt + 1 .. prompt + steps
    positions."""
    return values_per_position * element_bytes * (prompt + (steps + 1) / 2)


def weight_bytes_plan(plan: str) -> int:
    folder = pathlib.Path(plan).parent
    return sum(f.stat().st_size for f in folder.iterdir() if f.name != pathlib.Path(plan).name)


def median_runs(fn_ours, fn_theirs, runs: int, between=None) -> dict:
    """Alternated runs after a warm-up of each; `between()` runs before every run and after the
    last (membw samples: ours' run j lies between samples 2j and 2j + 1, llama.cpp's between
    2j + 1 and 2j + 2)."""
    fn_ours(), fn_theirs()  # warm-up (page cache, thread pools)
    ours, theirs = [], []
    if between:
        between()
    for _ in range(runs):
        ours.append(fn_ours())
        if between:
            between()
        theirs.append(fn_theirs())
        if between:
            between()
    out = {}
    for key in ours[0]:
        a = statistics.median(r[key] for r in ours)
        b = statistics.median(r[key] for r in theirs)
        out[key] = {"ours": a, "llamacpp": b, "ratio": a / b,
                    "ours_runs": [r[key] for r in ours], "llamacpp_runs": [r[key] for r in theirs]}
    return out


# ---------------------------------------------------------------- servers
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc, seconds: float = 300):
    import urllib.request

    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited ({proc.returncode}) before it was ready")
        try:
            with urllib.request.urlopen(url + "/v1/models", timeout=2) as r:
                if r.status == 200:
                    return
        except Exception:
            time.sleep(0.5)
    raise SystemExit("server not ready in time")


def bench_serve(args, url: str, concurrency: int, out: pathlib.Path, vocab: int) -> dict:
    cmd = [args.llmrt, "bench-serve", "--url", url, "--num-requests", str(args.serve_requests),
           "--max-concurrency", str(concurrency), "--seed", "0", "--json", str(out),
           "--vocab-size", str(vocab), "--max-model-len", str(args.serve_model_len)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        log(r.stdout[-2000:], r.stderr[-2000:])
        raise SystemExit("bench-serve failed")
    j = json.loads(out.read_text())
    keep = ("completed", "failed", "duration", "output_throughput", "total_token_throughput",
            "request_throughput", "median_ttft_ms", "median_tpot_ms")
    return {k: j.get(k) for k in keep}


def start_ours(args, plan: str, concurrency: int, port: int):
    cmd = [args.llmrt, "serve", plan, "--port", str(port), "--threads", str(args.threads),
           "--max-num-seqs", str(concurrency), "--max-model-len", str(args.serve_model_len),
           "--kv-cache-dtype", args.kv_cache_dtype]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_llama(args, gguf: str, concurrency: int, port: int):
    if args.llama_server:
        cmd = [args.llama_server, "-m", gguf, "--port", str(port), "-t", str(args.threads),
               "-tb", str(args.threads), "-np", str(concurrency),
               "-c", str(concurrency * args.serve_model_len), "--no-webui"]
    else:  # llama_cpp.server: one request at a time (a lock around one Llama object)
        cmd = [sys.executable, "-m", "llama_cpp.server", "--model", gguf, "--port", str(port),
               "--n_threads", str(args.threads), "--n_threads_batch", str(args.threads),
               "--n_ctx", str(args.serve_model_len)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def batched(args, plan: str, gguf: str, vocab: int, outdir: pathlib.Path) -> dict:
    result = {}
    for c in args.concurrency:
        runs = {"ours": [], "llamacpp": []}
        for rep in range(args.serve_runs):
            for who, start in (("ours", lambda p: start_ours(args, plan, c, p)),
                               ("llamacpp", lambda p: start_llama(args, gguf, c, p))):
                port = free_port()
                proc = start(port)
                try:
                    url = f"http://127.0.0.1:{port}"
                    wait_ready(url, proc)
                    runs[who].append(bench_serve(args, url, c, outdir / f"serve-{who}-{c}-{rep}.json",
                                                 vocab))
                finally:
                    proc.send_signal(signal.SIGTERM)
                    try:
                        proc.wait(30)
                    except subprocess.TimeoutExpired:
                        proc.kill()
        med = {w: statistics.median(r["output_throughput"] for r in rs) for w, rs in runs.items()}
        result[str(c)] = {"output_tps": {**med, "ratio": med["ours"] / med["llamacpp"]},
                          "runs": runs}
        log(f"  batched {c}: ours {med['ours']:.1f} tok/s, llama.cpp {med['llamacpp']:.1f} tok/s")
    return result


# ---------------------------------------------------------------- driver
def compile_plan(args, gguf: str, out: pathlib.Path) -> str:
    plan = out / "plan.fb"
    if not plan.exists():
        out.mkdir(parents=True, exist_ok=True)
        subprocess.run([args.llmc, "compile", "-q", gguf, "-o", str(plan)], check=True)
    return str(plan)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--llmc", required=True)
    ap.add_argument("--llmrt", required=True)
    ap.add_argument("--membw", required=True)
    ap.add_argument("--models", required=True, help="JSON {precision: gguf} from make_models.py")
    ap.add_argument("--text", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--precisions", default="F32,Q8_0,Q4_0,Q4_1,Q4_K_M")
    ap.add_argument("--context", type=int, default=512)
    ap.add_argument("--ppl-windows", type=int, default=0, help="perplexity windows (0 = all)")
    ap.add_argument("--prompt-tokens", type=int, default=512)
    ap.add_argument("--decode-tokens", type=int, default=128)
    ap.add_argument("--skip", default="", help="comma list of: single,perplexity,batched")
    ap.add_argument("--llama-server", default="", help="llama-server binary (else llama_cpp.server)")
    ap.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[16, 64])
    ap.add_argument("--serve-requests", type=int, default=64)
    ap.add_argument("--serve-runs", type=int, default=1)
    ap.add_argument("--serve-model-len", type=int, default=1024)
    ap.add_argument("--kv-cache-dtype", default="bf16", choices=["f32", "bf16", "fp8_e4m3"],
                    help="our KV cache dtype (llama.cpp keeps its default, f16)")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    models = json.loads(pathlib.Path(args.models).read_text())
    text = pathlib.Path(args.text).read_text(encoding="utf-8")
    L.llama_backend_init()
    L.llama_log_set(_quiet_log, ctypes.c_void_p())

    bw = json.loads(subprocess.run([args.membw, "--json"], capture_output=True, text=True,
                                   check=True).stdout)
    bw["note"] = ("at the start; each run's bandwidth limit uses membw sampled just before and "
                  "after it")
    log(f"membw: {bw['read_gb_per_s']:.2f} GB/s")
    versions = json.loads((pathlib.Path(sys.executable).parent.parent / "versions.json").read_text())
    results = {"date": time.strftime("%Y-%m-%d"), "machine": machine(), "threads": args.threads,
               "runs": args.runs, "membw": bw, "versions": versions,
               "llmc_version": subprocess.run([args.llmc, "--version"], capture_output=True,
                                              text=True).stdout.strip(),
               "git_commit": git_commit(), "precisions": {}}
    for precision in args.precisions.split(","):
        gguf = models[precision]
        log(f"== {precision}: {gguf}")
        plan = compile_plan(args, gguf, out / "plans" / precision)
        r = {"gguf": gguf, "plan": plan, "plan_weight_bytes": weight_bytes_plan(plan),
             "gguf_weight_bytes": weight_bytes_gguf(gguf)}
        n_ctx = max(args.prompt_tokens + args.decode_tokens + 8, args.context)
        llama = LlamaRunner(gguf, args.threads, n_ctx, max(args.prompt_tokens, args.context))
        ids = llama.tokenize(text)
        if "single" not in skip:
            prompt = ids[: args.prompt_tokens]
            # This machine's bandwidth moves (a shared host): membw before every run and after
            # the last; each run's limit uses the samples around it.
            samples = []
            s = median_runs(lambda: ours_single_stream(args, plan, prompt, args.decode_tokens),
                            lambda: llama.single_stream(prompt, args.decode_tokens), args.runs,
                            between=lambda: samples.append(measure_membw(args)))
            s["membw_gb_per_s"] = {"median": statistics.median(samples), "samples": samples}
            values = kv_values_per_position(gguf)
            kv = {e: kv_bytes_per_token(values, KV_ELEMENT_BYTES[d], len(prompt),
                                        args.decode_tokens)
                  for e, d in (("ours", args.kv_cache_dtype), ("llamacpp", "f16"))}
            r["kv_bytes_per_token"] = kv
            r["kv_cache_dtype"] = {"ours": args.kv_cache_dtype, "llamacpp": "f16"}
            weights = {"ours": r["plan_weight_bytes"], "llamacpp": r["gguf_weight_bytes"]}
            first = {"ours": 0, "llamacpp": 1}
            runs = {e: run_shares(s["decode_tps"][f"{e}_runs"], samples, first[e],
                                  weights[e] + kv[e]) for e in weights}
            s["bandwidth_fraction_runs"] = runs
            s["bandwidth_fraction"] = {e: statistics.median(runs[e]) for e in weights}
            s["bandwidth_fraction_weights_only"] = {
                e: statistics.median(run_shares(s["decode_tps"][f"{e}_runs"], samples, first[e],
                                                weights[e])) for e in weights}
            r["single_stream"] = s
            log(f"  prompt {s['prefill_tps']['ours']:.1f} vs {s['prefill_tps']['llamacpp']:.1f}"
                f" tok/s; decode {s['decode_tps']['ours']:.1f} vs {s['decode_tps']['llamacpp']:.1f}"
                f" tok/s; bandwidth {s['bandwidth_fraction']['ours']:.0%} vs"
                f" {s['bandwidth_fraction']['llamacpp']:.0%}")
        if "perplexity" not in skip:
            ours = json.loads(subprocess.run(
                [args.llmrt, "perplexity", plan, "--text", args.text, "--context",
                 str(args.context), "--threads", str(args.threads), "--json",
                 "--max-windows", str(args.ppl_windows), "--kv-cache-dtype", args.kv_cache_dtype],
                capture_output=True, text=True, check=True).stdout)
            theirs = llama.perplexity(ids, args.context, args.context, args.ppl_windows)
            r["perplexity"] = {"ours": ours, "llamacpp": theirs}
            log(f"  perplexity {ours['perplexity']:.4f} vs {theirs['perplexity']:.4f}")
        llama.close()
        if "batched" not in skip:
            r["batched"] = batched(args, plan, gguf, llama.n_vocab, out)
        results["precisions"][precision] = r
        (out / "results.json").write_text(json.dumps(results, indent=1))
    (out / "results.json").write_text(json.dumps(results, indent=1))
    (out / "results.md").write_text(markdown(results))
    print((out / "results.md").read_text())


def machine() -> str:
    cpu = "unknown CPU"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB, {platform.system()} {platform.release()}"


def git_commit() -> str:
    r = subprocess.run(["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"],
                       capture_output=True, text=True)
    return r.stdout.strip()


def markdown(res: dict) -> str:
    v = res["versions"]
    lines = [f"Measured {res['date']} on {res['machine']}; {res['threads']} threads for both; "
             f"llama-cpp-python {v['llama_cpp_python']}; our commit {res['git_commit']}; "
             f"memory read bandwidth {res['membw']['read_gb_per_s']:.1f} GB/s at the start (membw; "
             f"each run's limit uses membw sampled just before and after it, and a row's share "
             f"is the median over its runs); medians of "
             f"{res['runs']} alternated runs.", ""]
    lines += ["| precision | weights + KV read/token (ours / llama.cpp) | prompt 512 tok/s (ours / llama.cpp / ratio) "
              "| decode tok/s (ours / llama.cpp / ratio) | decode / bandwidth limit (ours / llama.cpp) "
              "| perplexity ours (vs our F32) / llama.cpp |", "|---|---|---|---|---|---|"]
    f32 = res["precisions"].get("F32", {}).get("perplexity")
    for p, r in res["precisions"].items():
        s = r.get("single_stream")
        pp = r.get("perplexity")
        cell = lambda k: (f"{s[k]['ours']:.1f} / {s[k]['llamacpp']:.1f} / {s[k]['ratio']:.2f}x"
                          if s else "-")
        bwf = "-"
        if s:
            bwf = f"{s['bandwidth_fraction']['ours']:.0%} / {s['bandwidth_fraction']['llamacpp']:.0%}"
            if "membw_gb_per_s" in s:
                m = s["membw_gb_per_s"]
                bwf += (f" (membw {m['median']:.1f} GB/s, samples "
                        f"{min(m['samples']):.1f}-{max(m['samples']):.1f})")
        ppl = "-"
        if pp:
            rel = (f" ({pp['ours']['perplexity'] / f32['ours']['perplexity'] - 1:+.2%})"
                   if f32 else "")
            ppl = f"{pp['ours']['perplexity']:.4f}{rel} / {pp['llamacpp']['perplexity']:.4f}"
        kvb = r.get("kv_bytes_per_token", {"ours": 0, "llamacpp": 0})
        lines.append(f"| {p} | {r['plan_weight_bytes']/1e6:.0f} + {kvb['ours']/1e6:.0f} MB / "
                     f"{r['gguf_weight_bytes']/1e6:.0f} + {kvb['llamacpp']/1e6:.0f} MB "
                     f"| {cell('prefill_tps')} | {cell('decode_tps')} | {bwf} | {ppl} |")
    batched_rows = [(p, c, b) for p, r in res["precisions"].items()
                    for c, b in r.get("batched", {}).items()]
    if batched_rows:
        lines += ["", "| precision | concurrent requests | output tok/s ours | output tok/s llama.cpp server | ratio |",
                  "|---|---|---|---|---|"]
        for p, c, b in batched_rows:
            o = b["output_tps"]
            lines.append(f"| {p} | {c} | {o['ours']:.1f} | {o['llamacpp']:.1f} | {o['ratio']:.2f}x |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

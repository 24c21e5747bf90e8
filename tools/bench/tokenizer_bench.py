#!/usr/bin/env python3
"""Encode throughput of the runtime tokenizer against the `tokenizers` library, one thread each,
same documents, same run. A benchmark, not a test: it prints numbers and checks only that both
produce the same ids (an FNV-1a hash over all ids).

Corpora (built here, deterministic, no download):
  prose  docstrings of the Python standard library (English text), in ~4 KB documents
  code   Python standard library sources, in ~4 KB documents
  mixed  test/fixtures/tokenizers/strings.json (whitespace runs, CJK, emoji, special tokens...)

Usage: python tools/bench/tokenizer_bench.py [--build build] [--tokenizers smollm2 qwen2 ...]
The C++ driver is the `tokenizer_bench` target (ninja -C build tokenizer_bench).
Requirements: tokenizers (PyPI).
"""

import argparse
import ast
import json
import os
import subprocess
import sys
import sysconfig
import tempfile
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(REPO_ROOT, "test", "fixtures", "tokenizers")
DOC_BYTES = 4096
CORPUS_BYTES = 2_000_000


def stdlib_files():
    root = sysconfig.get_paths()["stdlib"]
    out = []
    for sub in ["email", "json", "http", "asyncio", "logging", "unittest", "xml", "concurrent",
                "importlib", "collections", "urllib", "multiprocessing", "sqlite3", "ctypes"]:
        for dirpath, _, files in sorted(os.walk(os.path.join(root, sub))):
            out += [os.path.join(dirpath, f) for f in sorted(files) if f.endswith(".py")]
    out += [os.path.join(root, f) for f in sorted(os.listdir(root)) if f.endswith(".py")]
    return out


def chunk(texts, total):
    docs, cur, size = [], [], 0
    for t in texts:
        cur.append(t)
        size += len(t.encode())
        if sum(len(c.encode()) for c in cur) >= DOC_BYTES:
            docs.append("".join(cur))
            cur = []
        if size >= total:
            break
    if cur:
        docs.append("".join(cur))
    return docs


def corpora():
    prose, code = [], []
    for path in stdlib_files():
        try:
            src = open(path, encoding="utf-8").read()
            tree = ast.parse(src)
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        code.append(src)
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef, ast.Module)):
                doc = ast.get_docstring(node)
                if doc and len(doc) > 80:
                    prose.append(doc + "\n\n")
    code_lines = []
    for src in code:
        code_lines += src.splitlines(keepends=True)
    with open(os.path.join(FIXTURES, "strings.json"), encoding="utf-8") as f:
        mixed = [s + "\n" for s in json.load(f)]
    return {"prose": chunk(prose, CORPUS_BYTES), "code": chunk(code_lines, CORPUS_BYTES),
            "mixed": chunk(mixed, CORPUS_BYTES)}


def fnv(ids_list):
    h = 1469598103934665603
    for ids in ids_list:
        for i in ids:
            h = ((h ^ (i & 0xFFFFFFFF)) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def bench_reference(tok_dir, docs, repeat):
    from tokenizers import Tokenizer

    t0 = time.perf_counter()
    tok = Tokenizer.from_file(os.path.join(tok_dir, "tokenizer.json"))
    load = time.perf_counter() - t0
    a = time.perf_counter()
    ids = [tok.encode(d, add_special_tokens=False).ids for d in docs]  # cold pass + hash
    cold = time.perf_counter() - a
    best = float("inf")
    for _ in range(repeat):
        a = time.perf_counter()
        for d in docs:
            tok.encode(d, add_special_tokens=False)
        best = min(best, time.perf_counter() - a)
    nbytes = sum(len(d.encode()) for d in docs)
    return {"bytes": nbytes, "tokens": sum(len(i) for i in ids), "seconds": best,
            "mb_per_s": nbytes / best / 1e6, "cold_mb_per_s": nbytes / cold / 1e6,
            "load_seconds": load, "hash": fnv(ids)}


def bench_ours(driver, tok_dir, docs_file, repeat):
    out = subprocess.run([driver, tok_dir, docs_file, "--repeat", str(repeat)], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(REPO_ROOT, "build"))
    ap.add_argument("--tokenizers", nargs="+", default=["smollm2", "llama-spm", "qwen2"])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    driver = os.path.join(args.build, "runtime", "tokenizer_bench")
    if not os.path.exists(driver):
        sys.exit(f"{driver} not found: build the tokenizer_bench target first")
    os.environ["RAYON_NUM_THREADS"] = "1"  # the tokenizers library: one thread
    os.environ["TOKENIZERS_PARALLELISM"] = "false"

    print("MB/s: best of --repeat passes (warm word caches) / first pass of a fresh tokenizer")
    print(f"{'tokenizer':<12} {'corpus':<6} {'MB':>5} {'tokens':>8} {'ours MB/s':>12} "
          f"{'tokenizers MB/s':>16} {'ratio':>6} {'load ours/ref (s)':>18}  ids")
    with tempfile.TemporaryDirectory() as tmp:
        for corpus, docs in corpora().items():
            docs_file = os.path.join(tmp, corpus + ".json")
            with open(docs_file, "w", encoding="utf-8") as f:
                json.dump(docs, f, ensure_ascii=False)
            for name in args.tokenizers:
                tok_dir = os.path.join(FIXTURES, name)
                ours = bench_ours(driver, tok_dir, docs_file, args.repeat)
                ref = bench_reference(tok_dir, docs, args.repeat)
                same = "same" if ours["hash"] == ref["hash"] and ours["tokens"] == ref["tokens"] else "DIFFER"
                print(f"{name:<12} {corpus:<6} {ours['bytes'] / 1e6:>5.2f} {ours['tokens']:>8} "
                      f"{ours['mb_per_s']:>6.1f}/{ours['cold_mb_per_s']:<5.1f} "
                      f"{ref['mb_per_s']:>10.2f}/{ref['cold_mb_per_s']:<5.2f} "
                      f"{ours['mb_per_s'] / ref['mb_per_s']:>6.1f} "
                      f"{ours['load_seconds']:>8.3f}/{ref['load_seconds']:<8.3f}  {same}", flush=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Reference data for the bench-serve tests (test/unit/tools), made by the reference libraries.

Writes into reference/ next to this script:
  sse_stream.bin   a server-sent-event stream in the format vLLM's OpenAI server streams
                   (/v1/completions chunks with token text, a usage chunk, data: [DONE]), with
                   the variations the SSE grammar allows: CRLF / CR / LF line ends, comment
                   pings, multi-line data, `event:` and `retry:` fields, an empty data field,
                   UTF-8 text;
  sse_events.json  the events the openai package's SSE decoder (openai._streaming.SSEDecoder)
                   reads from that stream: [{"type": ..., "data": ...}];
  statistics.json  numpy's mean, std, median and percentiles (default linear method) of
                   latency-like samples of many sizes (numpy's pairwise summation changes at
                   8 and 128 values).

Usage: python3 make_reference.py   (needs numpy and openai)
"""
import json
import os

import numpy as np
from openai._streaming import SSEDecoder

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "reference")


def completion_chunk(text, finish=None):
    return {
        "id": "cmpl-7f3a",
        "object": "text_completion",
        "created": 1718000000,
        "model": "mock-model",
        "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": finish,
                     "stop_reason": None}],
        "usage": None,
    }


def sse_stream():
    texts = [" Once", " upon", " a", " time", ",", " caf\u00e9", " \u65e5\u672c", " \U0001F600",
             "", " the", " end"]
    parts = []
    for i, text in enumerate(texts):
        data = json.dumps(completion_chunk(text, "length" if i == len(texts) - 1 else None),
                          ensure_ascii=False)
        ends = ["\n", "\r\n", "\r"][i % 3]
        if i == 2:
            parts.append(": ping - keep-alive" + ends + ends)  # a comment-only block
        if i == 4:
            parts.append("event: progress" + ends + "data: {\"step\": 4}" + ends + ends)
        if i == 6:
            parts.append("retry: 3000" + ends + "data:first line" + ends + "data" + ends +
                         "data:  two spaces" + ends + ends)  # multi-line data, no-colon field
        if i == 8:
            parts.append("data:" + ends + ends)  # an empty data field
        parts.append("data: " + data + ends + ends)
    usage = {"id": "cmpl-7f3a", "object": "text_completion", "created": 1718000000,
             "model": "mock-model", "choices": [],
             "usage": {"prompt_tokens": 17, "total_tokens": 28, "completion_tokens": 11}}
    parts.append("data: " + json.dumps(usage) + "\r\n\r\n")
    parts.append("data: [DONE]\n\n")
    return "".join(parts).encode("utf-8")


def main():
    os.makedirs(OUT, exist_ok=True)
    stream = sse_stream()
    with open(os.path.join(OUT, "sse_stream.bin"), "wb") as f:
        f.write(stream)
    events = [{"type": e.event or "message", "data": e.data}
              for e in SSEDecoder().iter_bytes(iter([stream]))]
    with open(os.path.join(OUT, "sse_events.json"), "w") as f:
        json.dump(events, f, indent=1, ensure_ascii=False)
        f.write("\n")

    rng = np.random.default_rng(20240611)
    percentiles = [0, 1, 10, 25, 50, 75, 90, 99, 99.9, 100]
    cases = []
    for n in [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 100, 127, 128, 129, 130, 255, 257, 1000]:
        values = rng.lognormal(mean=-3.0, sigma=1.0, size=n)  # seconds, like latencies
        cases.append(values)
    cases.append(np.array([0.5, 0.25, 0.25, 0.125, 0.5, 0.5, 1.0, 0.125, 0.25]))  # ties
    out = []
    for values in cases:
        vals = [float(v) for v in values]
        out.append({
            "values": vals,
            "mean": float(np.mean(vals)),
            "std": float(np.std(vals)),
            "median": float(np.median(vals)),
            "percentiles": [[p, float(np.percentile(vals, p))] for p in percentiles],
        })
    with open(os.path.join(OUT, "statistics.json"), "w") as f:
        json.dump({"numpy": np.__version__, "cases": out}, f)
        f.write("\n")


if __name__ == "__main__":
    main()

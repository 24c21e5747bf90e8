"""`llmrt serve` driven by the official `openai` Python client and by curl, on the tiny-chat model.

Reference texts come from transformers (test/fixtures/tiny-chat/reference.json, written by
tools/fixtures/make_tiny_chat_model.py): its chat template rendering, tokenization, greedy
decoding and detokenization, so a chat completion here must give exactly transformers' text."""

import json
import os
import socket
import subprocess
import time
import unittest
import urllib.error
import urllib.request

import openai

from harness import FIXTURES, LLMRT, Server, compile_plan, metric_values

MODEL = "tiny-chat"


def reference():
    with open(os.path.join(FIXTURES, "tiny-chat", "reference.json"), encoding="utf-8") as f:
        return json.load(f)


def post(url, path, body, headers=None, raw=None):
    data = raw if raw is not None else json.dumps(body).encode()
    req = urllib.request.Request(url + path, data=data, method="POST",
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


class OpenAIApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ref = reference()
        cls.server = Server(compile_plan(), "--served-model-name", MODEL)
        cls.client = openai.OpenAI(base_url=cls.server.url + "/v1", api_key="unused",
                                   max_retries=0, timeout=60)

    @classmethod
    def tearDownClass(cls):
        code = cls.server.terminate()
        assert code == 0, "".join(cls.server.log)

    def test_models(self):
        models = self.client.models.list().data
        self.assertEqual([m.id for m in models], [MODEL])
        self.assertEqual(models[0].model_extra["max_model_len"], 512)
        self.assertEqual(self.client.models.retrieve(MODEL).id, MODEL)
        with self.assertRaises(openai.NotFoundError):
            self.client.models.retrieve("other")

    def test_chat_matches_transformers(self):
        for case in self.ref["cases"]:
            r = self.client.chat.completions.create(
                model=MODEL, messages=case["messages"], temperature=0,
                max_tokens=self.ref["max_new_tokens"])
            self.assertEqual(r.choices[0].message.content, case["text"])
            self.assertEqual(r.choices[0].message.role, "assistant")
            self.assertEqual(r.choices[0].finish_reason, case["finish_reason"])
            self.assertEqual(r.usage.prompt_tokens, len(case["prompt_ids"]))
            self.assertEqual(r.usage.completion_tokens, len(case["output_ids"]))
            self.assertEqual(r.usage.total_tokens,
                             len(case["prompt_ids"]) + len(case["output_ids"]))
            self.assertTrue(r.id.startswith("chatcmpl-"))

    def test_chat_stream_with_usage(self):
        case = self.ref["cases"][2]
        stream = self.client.chat.completions.create(
            model=MODEL, messages=case["messages"], temperature=0, stream=True,
            max_tokens=self.ref["max_new_tokens"], stream_options={"include_usage": True})
        text, finish, usage, roles = "", None, None, []
        for chunk in stream:
            if chunk.usage is not None:
                usage = chunk.usage
                self.assertEqual(chunk.choices, [])
                continue
            delta = chunk.choices[0].delta
            if delta.role:
                roles.append(delta.role)
            text += delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
        self.assertEqual(roles, ["assistant"])
        self.assertEqual(text, case["text"])
        self.assertEqual(finish, case["finish_reason"])
        self.assertEqual(usage.completion_tokens, len(case["output_ids"]))
        self.assertEqual(usage.prompt_tokens, len(case["prompt_ids"]))

    def test_completions_with_token_ids_and_text(self):
        case = self.ref["cases"][1]
        r = self.client.completions.create(model=MODEL, prompt=case["prompt_ids"], temperature=0,
                                           max_tokens=self.ref["max_new_tokens"])
        self.assertEqual(r.choices[0].text, case["text"])
        # The same prompt as text: the server's tokenizer gives the same ids.
        r2 = self.client.completions.create(model=MODEL, prompt=case["prompt"], temperature=0,
                                            max_tokens=self.ref["max_new_tokens"],
                                            extra_body={"add_special_tokens": False})
        self.assertEqual(r2.choices[0].text, case["text"])
        self.assertEqual(r2.usage.prompt_tokens, len(case["prompt_ids"]))
        # Several prompts: choices in prompt order.
        prompts = [c["prompt_ids"] for c in self.ref["cases"]]
        r3 = self.client.completions.create(model=MODEL, prompt=prompts, temperature=0,
                                            max_tokens=self.ref["max_new_tokens"])
        self.assertEqual([c.text for c in r3.choices], [c["text"] for c in self.ref["cases"]])
        self.assertEqual([c.index for c in r3.choices], [0, 1, 2])

    def test_completions_stream_and_echo(self):
        case = self.ref["cases"][0]
        stream = self.client.completions.create(model=MODEL, prompt=case["prompt"],
                                                temperature=0, max_tokens=8, stream=True,
                                                echo=True,
                                                extra_body={"add_special_tokens": False})
        text = "".join(c.choices[0].text for c in stream if c.choices)
        ids = case["output_ids"][:8]
        expect = self.client.completions.create(model=MODEL, prompt=case["prompt_ids"],
                                                temperature=0, max_tokens=8).choices[0].text
        self.assertEqual(text, case["prompt"] + expect)
        self.assertEqual(len(ids), 8)

    def test_n_samples(self):
        case = self.ref["cases"][0]
        greedy = self.client.chat.completions.create(model=MODEL, messages=case["messages"],
                                                     temperature=0, n=3, max_tokens=12)
        self.assertEqual(len(greedy.choices), 3)
        self.assertEqual(len({c.message.content for c in greedy.choices}), 1)
        self.assertEqual(greedy.usage.prompt_tokens, len(case["prompt_ids"]))  # counted once
        sampled = [self.client.chat.completions.create(
            model=MODEL, messages=case["messages"], temperature=1.0, n=4, seed=7,
            max_tokens=12) for _ in range(2)]
        texts = [[c.message.content for c in r.choices] for r in sampled]
        self.assertEqual(texts[0], texts[1])  # seeded: repeatable
        self.assertGreater(len(set(texts[0])), 1)  # the samples differ
        self.assertEqual(sampled[0].usage.completion_tokens, 4 * 12)

    def test_logprobs(self):
        case = self.ref["cases"][0]
        r = self.client.chat.completions.create(model=MODEL, messages=case["messages"],
                                                temperature=0, max_tokens=6, logprobs=True,
                                                top_logprobs=3)
        content = r.choices[0].logprobs.content
        self.assertEqual(len(content), 6)
        for entry in content:
            self.assertEqual(len(entry.top_logprobs), 3)
            self.assertLessEqual(entry.logprob, 0)
            tops = [t.logprob for t in entry.top_logprobs]
            self.assertEqual(tops, sorted(tops, reverse=True))
            self.assertEqual(entry.logprob, tops[0])  # greedy picks the most likely
        c = self.client.completions.create(model=MODEL, prompt=case["prompt_ids"], temperature=0,
                                           max_tokens=5, logprobs=2)
        lp = c.choices[0].logprobs
        self.assertEqual(len(lp.tokens), 5)
        self.assertEqual(len(lp.token_logprobs), 5)
        self.assertEqual(len(lp.top_logprobs), 5)
        self.assertEqual(lp.text_offset, sorted(lp.text_offset))

    def test_stop_strings_and_stop_token_ids(self):
        case = next(c for c in self.ref["cases"] if len(c["text"]) > 12)
        stop = case["text"][5:8]
        r = self.client.chat.completions.create(model=MODEL, messages=case["messages"],
                                                temperature=0, max_tokens=24, stop=[stop])
        self.assertEqual(r.choices[0].message.content, case["text"][:case["text"].find(stop)])
        self.assertEqual(r.choices[0].finish_reason, "stop")
        self.assertEqual(r.choices[0].model_extra.get("stop_reason"), stop)
        stream = self.client.chat.completions.create(model=MODEL, messages=case["messages"],
                                                     temperature=0, max_tokens=24, stop=stop,
                                                     stream=True)
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        self.assertEqual(text, case["text"][:case["text"].find(stop)])
        token = case["output_ids"][4]
        first = case["output_ids"].index(token)
        r = self.client.completions.create(model=MODEL, prompt=case["prompt_ids"], temperature=0,
                                           max_tokens=24, extra_body={"stop_token_ids": [token]})
        self.assertEqual(r.choices[0].finish_reason, "stop")
        self.assertEqual(r.choices[0].model_extra.get("stop_reason"), token)
        self.assertEqual(r.usage.completion_tokens, first + 1)

    def test_max_tokens_and_ignore_eos(self):
        case = self.ref["cases"][0]
        r = self.client.completions.create(model=MODEL, prompt=case["prompt_ids"], temperature=0,
                                           max_tokens=1)
        self.assertEqual(r.choices[0].finish_reason, "length")
        self.assertEqual(r.usage.completion_tokens, 1)
        r = self.client.completions.create(model=MODEL, prompt=case["prompt_ids"], temperature=0,
                                           max_tokens=40, extra_body={"ignore_eos": True})
        self.assertEqual(r.usage.completion_tokens, 40)

    def test_errors_through_the_client(self):
        messages = [{"role": "user", "content": "hi"}]
        with self.assertRaises(openai.NotFoundError):
            self.client.chat.completions.create(model="nope", messages=messages)
        with self.assertRaises(openai.BadRequestError) as e:
            self.client.chat.completions.create(model=MODEL, messages=messages, temperature=5)
        self.assertEqual(e.exception.body["param"], "temperature")
        with self.assertRaises(openai.BadRequestError) as e:
            self.client.chat.completions.create(model=MODEL, messages=messages,
                                                extra_body={"no_such_thing": 1})
        self.assertIn("no_such_thing", e.exception.message)
        with self.assertRaises(openai.BadRequestError) as e:
            self.client.completions.create(model=MODEL, prompt=[5] * 600, max_tokens=4)
        self.assertIn("maximum context length", e.exception.message)
        with self.assertRaises(openai.BadRequestError):
            self.client.completions.create(model=MODEL, prompt=[5] * 500, max_tokens=100)
        with self.assertRaises(openai.BadRequestError):
            self.client.completions.create(model=MODEL, prompt=[100000], max_tokens=4)
        # Nothing of that disturbed the server.
        self.test_models()

    def test_raw_http_errors(self):
        url = self.server.url
        self.assertEqual(post(url, "/v1/chat/completions", None, raw=b"{not json")[0], 400)
        status, body = post(url, "/v1/chat/completions", None, raw=b"[1, 2]")
        self.assertEqual(status, 400)
        self.assertIn("message", body["error"])
        self.assertEqual(post(url, "/v1/nothing", {})[0], 404)
        self.assertEqual(post(url, "/v1/models", {})[0], 405)
        # A body over the limit is refused from its headers, before it is read: curl sends
        # "Expect: 100-continue" for large bodies and gets the 413 instead of uploading 9 MiB.
        big = os.path.join(os.path.dirname(compile_plan()), "big.json")
        with open(big, "wb") as f:
            f.write(b'{"model": "x", "prompt": "' + b"a" * (9 << 20) + b'"}')
        out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                              url + "/v1/completions", "-H", "Content-Type: application/json",
                              "--data-binary", "@" + big], capture_output=True, text=True,
                             timeout=60).stdout
        self.assertEqual(out, "413")
        deep = b"[" * 100000 + b"]" * 100000
        self.assertEqual(post(url, "/v1/completions", None, raw=deep)[0], 400)
        self.assertEqual(self.server.get("/health")[0], 200)

    def test_tokenize_detokenize(self):
        case = self.ref["cases"][1]
        status, body = post(self.server.url, "/tokenize",
                            {"model": MODEL, "messages": case["messages"]})
        self.assertEqual(status, 200)
        self.assertEqual(body["tokens"], case["prompt_ids"])
        self.assertEqual(body["count"], len(case["prompt_ids"]))
        status, body = post(self.server.url, "/detokenize",
                            {"model": MODEL, "tokens": case["prompt_ids"]})
        self.assertEqual(body["prompt"], case["prompt"])

    def test_curl_stream(self):
        body = json.dumps({"model": MODEL, "messages": self.ref["cases"][0]["messages"],
                           "stream": True, "temperature": 0, "max_tokens": 5})
        out = subprocess.run(["curl", "-sN", self.server.url + "/v1/chat/completions", "-H",
                              "Content-Type: application/json", "-d", body],
                             capture_output=True, text=True, timeout=60, check=True).stdout
        events = [l[6:] for l in out.split("\n\n") if l.startswith("data: ")]
        self.assertEqual(events[-1], "[DONE]")
        chunks = [json.loads(e) for e in events[:-1]]
        self.assertEqual(chunks[0]["object"], "chat.completion.chunk")
        self.assertEqual(chunks[-1]["choices"][0]["finish_reason"], "length")

    def test_disconnect_aborts_and_frees_kv_blocks(self):
        body = json.dumps({"model": MODEL, "prompt": [5, 6, 7], "stream": True,
                           "max_tokens": 400, "ignore_eos": True}).encode()
        sock = socket.create_connection(("127.0.0.1", self.server.port))
        sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
                     b"application/json\r\nContent-Length: " + str(len(body)).encode() +
                     b"\r\n\r\n" + body)
        received = b""
        while received.count(b"data: ") < 3:
            received += sock.recv(4096)
        sock.close()
        deadline = time.time() + 20
        while True:
            m = metric_values(self.server.get("/metrics")[1])
            if m["llmrt_kv_cache_usage_ratio"] == 0 and m["llmrt_num_requests_running"] == 0:
                break
            self.assertLess(time.time(), deadline, "the aborted request kept its KV blocks")
            time.sleep(0.05)
        self.assertGreaterEqual(m['llmrt_request_success_total{finished_reason="abort"}'], 1)

    def test_metrics(self):
        self.client.completions.create(model=MODEL, prompt=[1, 2, 3], max_tokens=3,
                                       temperature=0)
        status, text = self.server.get("/metrics")
        self.assertEqual(status, 200)
        m = metric_values(text)
        self.assertGreater(m["llmrt_generation_tokens_total"], 0)
        self.assertGreater(m["llmrt_prompt_tokens_total"], 0)
        self.assertGreater(m["llmrt_time_to_first_token_seconds_count"], 0)
        self.assertGreater(m["llmrt_e2e_request_latency_seconds_count"], 0)
        self.assertGreater(m["llmrt_inter_token_latency_seconds_count"], 0)
        for name in ["llmrt_num_requests_waiting", "llmrt_prefix_cache_hits_total",
                     "llmrt_prefix_cache_queries_total", "llmrt_num_preemptions_total"]:
            self.assertIn(name, m)

    def test_bench_serve(self):
        out = os.path.join(os.path.dirname(compile_plan()), "bench.json")
        subprocess.run([LLMRT, "bench-serve", "--url", self.server.url, "--num-requests", "12",
                        "--json", out], check=True, capture_output=True, timeout=300)
        with open(out) as f:
            result = json.load(f)
        self.assertEqual(result["completed"], 12)
        self.assertEqual(result["failed"], 0)


class ApiKeyTest(unittest.TestCase):
    def test_api_key(self):
        server = Server(compile_plan(), "--api-key", "s3cret", "--served-model-name", MODEL)
        try:
            good = openai.OpenAI(base_url=server.url + "/v1", api_key="s3cret", max_retries=0)
            self.assertEqual([m.id for m in good.models.list().data], [MODEL])
            for key in ["wrong", "s3cre", "s3cret-and-more"]:
                bad = openai.OpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0)
                with self.assertRaises(openai.AuthenticationError):
                    bad.models.list()
            status, _ = post(server.url, "/v1/completions", {"model": MODEL, "prompt": "x"})
            self.assertEqual(status, 401)
            self.assertEqual(server.get("/health")[0], 200)  # public
        finally:
            self.assertEqual(server.terminate(), 0)


class ShutdownTest(unittest.TestCase):
    def _stream(self, server, max_tokens, n=1):
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0,
                               timeout=60)
        return client.completions.create(model=MODEL, prompt=[1, 2, 3], max_tokens=max_tokens,
                                         stream=True, temperature=0, n=n,
                                         extra_body={"ignore_eos": True})

    def test_graceful_shutdown_finishes_in_flight_requests(self):
        server = Server(compile_plan(), "--served-model-name", MODEL)
        stream = self._stream(server, 480)
        first = next(iter(stream))
        server.proc.send_signal(15)
        chunks = [first] + list(stream)
        self.assertEqual(chunks[-1].choices[0].finish_reason, "length")
        with self.assertRaises(ConnectionRefusedError):  # no new connections
            socket.create_connection(("127.0.0.1", server.port), timeout=5)
        self.assertEqual(server.terminate(), 0)
        log = "".join(server.log)
        self.assertIn("1 responses in flight", log)
        self.assertIn("every request finished", log)

    def test_overload_is_503_and_disturbs_nothing(self):
        server = Server(compile_plan(), "--served-model-name", MODEL,
                        "--max-pending-requests", "1")
        try:
            stream = self._stream(server, 480, n=64)
            next(iter(stream))
            client = openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0)
            with self.assertRaises(openai.InternalServerError) as e:
                client.completions.create(model=MODEL, prompt=[1], max_tokens=2)
            self.assertEqual(e.exception.status_code, 503)
            reasons = [c.choices[0].finish_reason for c in stream if c.choices]
            self.assertEqual(reasons.count("length"), 64)
            # Room again once the first request is done.
            self.assertEqual(client.completions.create(model=MODEL, prompt=[1], max_tokens=2)
                             .usage.completion_tokens, 2)
        finally:
            self.assertEqual(server.terminate(), 0)

    def test_grace_period_then_abort(self):
        # 64 samples of 480 tokens: longer than the 0.3 s grace on any machine of this size.
        server = Server(compile_plan(), "--served-model-name", MODEL, "--shutdown-grace", "0.3")
        stream = self._stream(server, 480, n=64)
        next(iter(stream))
        server.proc.send_signal(15)
        reasons = [c.choices[0].finish_reason for c in stream if c.choices]
        self.assertIn("abort", reasons)
        self.assertEqual(server.terminate(), 0)
        self.assertIn("aborted", "".join(server.log))


class LoadTest(unittest.TestCase):
    """256 concurrent streaming chat requests: every one completes with the text it gets when
    sent alone (greedy), none is lost, and the server's memory and KV cache return to idle."""

    CONCURRENT = 256

    def test_256_concurrent_streams(self):
        import asyncio
        server = Server(compile_plan(), "--served-model-name", MODEL)
        try:
            self._run(server, asyncio)
        finally:
            self.assertEqual(server.terminate(), 0)

    def _run(self, server, asyncio):
        conversations = [[{"role": "user", "content": f"Question {i}: tell me about {topic}."}]
                         for i, topic in enumerate(["cats", "rain", "Paris", "numbers", "tea",
                                                    "unicode ✓", "ships", "code"] * 2)]

        async def one(client, messages):
            stream = await client.chat.completions.create(
                model=MODEL, messages=messages, temperature=0, max_tokens=32, stream=True)
            text, finish = "", None
            async for chunk in stream:
                if chunk.choices:
                    text += chunk.choices[0].delta.content or ""
                    finish = chunk.choices[0].finish_reason or finish
            return text, finish

        async def main(batch):
            client = openai.AsyncOpenAI(base_url=server.url + "/v1", api_key="x",
                                        max_retries=0, timeout=300)
            try:
                return await asyncio.gather(*[one(client, m) for m in batch])
            finally:
                await client.close()

        alone = [asyncio.run(main([m]))[0] for m in conversations]
        self.assertTrue(all(finish in ("stop", "length") for _, finish in alone))
        idle = server.rss_bytes()
        batch = [conversations[i % len(conversations)] for i in range(self.CONCURRENT)]
        rss = []
        for _ in range(2):
            results = asyncio.run(main(batch))
            self.assertEqual(len(results), self.CONCURRENT)
            for i, result in enumerate(results):
                self.assertEqual(result, alone[i % len(conversations)], f"request {i}")
            m = metric_values(server.get("/metrics")[1])
            self.assertEqual(m["llmrt_kv_cache_usage_ratio"], 0)
            self.assertEqual(m["llmrt_num_requests_running"], 0)
            self.assertEqual(m["llmrt_num_requests_waiting"], 0)
            rss.append(server.rss_bytes())
        print(f"RSS: idle {idle >> 20} MiB, after 256 streams {rss[0] >> 20} MiB, "
              f"after 256 more {rss[1] >> 20} MiB")
        # The KV cache is allocated (and touched) at start-up, so serving adds only transient
        # buffers; a second round must not grow the process (no leak per request).
        self.assertLess(rss[0] - idle, 32 << 20)
        self.assertLess(rss[1] - rss[0], 4 << 20)


if __name__ == "__main__":
    unittest.main()

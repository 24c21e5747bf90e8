"""Starts `llmrt serve` on loopback for the end-to-end tests and stops it.

Environment (set by ctest): LLMRT, LLMC (the binaries), LLM_FIXTURES (test/fixtures)."""

import atexit
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.request

LLMRT = os.environ.get("LLMRT", "llmrt")
LLMC = os.environ.get("LLMC", "llmc")
FIXTURES = os.environ.get("LLM_FIXTURES", "test/fixtures")

_plans = {}


def compile_plan(model="tiny-chat"):
    """Compiles a fixture model once per process; returns the plan path."""
    if model not in _plans:
        out = tempfile.mkdtemp(prefix="llmrt-serve-test-")
        atexit.register(shutil.rmtree, out, ignore_errors=True)
        plan = os.path.join(out, "plan.fb")
        subprocess.run([LLMC, "compile", os.path.join(FIXTURES, model), "-o", plan, "-q"],
                       check=True)
        _plans[model] = plan
    return _plans[model]


class Server:
    """One `llmrt serve` process on 127.0.0.1 and a free port."""

    def __init__(self, plan, *args, ready_timeout=60):
        self.proc = subprocess.Popen(
            [LLMRT, "serve", plan, "--port", "0", "--threads", "1", "--kv-cache-memory",
             str(64 << 20), *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.log = []
        self.port = None
        deadline = time.time() + ready_timeout
        while self.port is None:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("llmrt serve exited before it was ready:\n" + "".join(self.log))
            self.log.append(line)
            m = re.search(r"listening on http://[^:]+:(\d+)", line)
            if m:
                self.port = int(m.group(1))
            if time.time() > deadline:
                raise RuntimeError("llmrt serve was not ready in time")
        while not any("ready in" in l for l in self.log):
            self.log.append(self.proc.stdout.readline())
        # Keep draining the log so the server never blocks on a full pipe.
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        self.url = f"http://127.0.0.1:{self.port}"

    def _drain(self):
        for line in self.proc.stdout:
            self.log.append(line)

    def get(self, path, headers=None):
        req = urllib.request.Request(self.url + path, headers=headers or {})
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode()

    def rss_bytes(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def terminate(self, timeout=30):
        """SIGTERM; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._reader.join(timeout=5)
        return code


def metric_values(text):
    """Prometheus text -> {sample name with labels: value}, parsed by prometheus_client."""
    from prometheus_client.parser import text_string_to_metric_families
    values = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            values[f"{s.name}{{{labels}}}" if labels else s.name] = s.value
    return values

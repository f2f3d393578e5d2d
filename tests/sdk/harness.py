"""The SDK suite's plumbing: the fake upstream and the proxy as processes, SDK clients that
record what they send and get, the check registry and the runner.

No test framework: a check is a function registered with `@check`; it passes when it
returns and fails when it raises. The runner prints one line per check and, last, the
plain line `N passed, M failed`.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import select
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

import anthropic
import openai

# What the fake's canned answers say (tests/support/scenarios.rs, chat_answers.rs,
# messages_answers.rs, responses_answers.rs). A check compares against these.
TEXT = "Hello from the fake."
ANSWER = "The answer is 4."
USAGE_TOTAL = 17  # prompt 12 + completion 5, on every upstream API

# What each Copilot endpoint of the fake answers, by the upstream the proxy picks.
UPSTREAM = {
    "chat": {  # /chat/completions
        "tools": [
            ("call_fake_0", "get_weather", {"city": "Paris"}),
            ("call_fake_1", "get_time", {"tz": "CET"}),
        ],
        "tools_text": None,
        "thinking": "Let me think about it.",
        "signature": "c2lnbmF0dXJlLWZyb20tdGhlLWZha2U=",  # reasoning_opaque
        "encrypted": "c2lnbmF0dXJlLWZyb20tdGhlLWZha2U=",
    },
    "messages": {  # native /v1/messages
        "tools": [("toolu_fake_1", "get_weather", {"city": "Paris"})],
        "tools_text": "Checking.",
        "thinking": "Let me think about it.",
        "signature": "c2lnbmF0dXJlLWZyb20tdGhlLWZha2U=",
        "encrypted": None,  # not reachable from /v1/responses
    },
    "responses": {  # /responses
        "tools": [
            ("call_exec_0", "exec_command", {"cmd": "ls -la"}),
            ("call_exec_1", "exec_command", {"cmd": "pwd"}),
        ],
        "tools_text": None,
        "thinking": "Planning the answer.",
        # An Anthropic signature carries the reasoning item's id too, so the item is
        # restored whole on the way back (src/translate/chat_responses.rs `join_opaque`).
        "signature": "gAAAAABfake-encrypted-reasoning==@rs_fake_1",
        "encrypted": "gAAAAABfake-encrypted-reasoning==",
    },
}

# One model per routing case of DESIGN.md §3 (tests/support/catalog.rs).
MODELS = ["gpt-4.1", "gpt-5.2-codex", "claude-sonnet-4.5"]
KIND = {
    "gpt-4.1": "chat-only",
    "gpt-5.2-codex": "responses-only",
    "claude-sonnet-4.5": "messages-capable",
}

# Which Copilot endpoint serves (inbound API, model): DESIGN.md §3, native first.
ROUTE = {
    ("chat", "gpt-4.1"): "chat",
    ("chat", "claude-sonnet-4.5"): "chat",
    ("chat", "gpt-5.2-codex"): "responses",
    ("responses", "gpt-5.2-codex"): "responses",
    ("responses", "gpt-4.1"): "chat",
    ("responses", "claude-sonnet-4.5"): "chat",
    ("messages", "claude-sonnet-4.5"): "messages",
    ("messages", "gpt-4.1"): "chat",
    ("messages", "gpt-5.2-codex"): "responses",
}


def upstream(api: str, model: str) -> dict:
    return UPSTREAM[ROUTE[(api, model)]]


def fake_embedding(index: int, dims: int) -> list[float]:
    """scenarios.rs `embedding`: multiples of 1/64, exact in f32."""
    return [((index * 31 + j * 7) % 97) / 64.0 - 0.5 for j in range(dims)]


# ---------------------------------------------------------------------------------------
# Assertions


def eq(actual: Any, expected: Any, what: str) -> None:
    if actual != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")


def ok(condition: Any, what: str) -> None:
    if not condition:
        raise AssertionError(what)


def raises(kind: type[BaseException], fn: Callable[[], Any], what: str) -> BaseException:
    """Runs `fn`, which must raise `kind` itself: a subclass means something else (the
    openai SDK's APIConnectionError is an APIError, but says the connection broke where
    the proxy should have sent an error event). Returns the exception."""
    try:
        result = fn()
    except Exception as e:  # noqa: BLE001 - a wrong class is reported
        if type(e) is kind:
            return e
        raise AssertionError(f"{what}: expected {kind.__name__}, got {describe(e)}") from e
    raise AssertionError(f"{what}: expected {kind.__name__}, got a result: {result!r:.300}")


def describe(e: BaseException) -> str:
    text = f"{type(e).__module__}.{type(e).__name__}: {e}"
    body = getattr(e, "body", None)
    if body is not None and str(body) not in text:
        text += f" (body {body!r})"
    return text[:1500]


# ---------------------------------------------------------------------------------------
# Clients that record their HTTP exchanges


@dataclass
class Exchange:
    method: str
    path: str
    request_headers: dict
    request_body: Any
    query: str = ""
    status: int | None = None
    response_headers: dict = field(default_factory=dict)


class Recorder:
    """httpx event hooks: every request the SDK sends and the status and headers it got."""

    def __init__(self) -> None:
        self.exchanges: list[Exchange] = []

    def on_request(self, request: Any) -> None:
        try:
            body = json.loads(request.content) if request.content else None
        except (ValueError, RuntimeError):
            body = None
        query = request.url.query
        if isinstance(query, bytes):
            query = query.decode()
        self.exchanges.append(
            Exchange(request.method, request.url.path, dict(request.headers), body, query)
        )

    def on_response(self, response: Any) -> None:
        for x in reversed(self.exchanges):
            if x.status is None:
                x.status = response.status_code
                x.response_headers = dict(response.headers)
                break

    def hooks(self) -> dict:
        return {"request": [self.on_request], "response": [self.on_response]}


@dataclass
class Stack:
    """The running fake and proxy, and how to reach the proxy."""

    base: str  # http://127.0.0.1:PORT of the proxy
    key: str  # its API key
    fake: str  # http://127.0.0.1:PORT of the fake upstream
    proxy_log: str

    def openai(self, recorder: Recorder | None = None, **kw: Any) -> openai.OpenAI:
        kw.setdefault("max_retries", 0)
        kw.setdefault("timeout", 20.0)
        kw.setdefault("api_key", self.key)
        hooks = (recorder or Recorder()).hooks()
        return openai.OpenAI(
            base_url=f"{self.base}/v1",
            http_client=openai.DefaultHttpxClient(event_hooks=hooks),
            **kw,
        )

    def anthropic(self, recorder: Recorder | None = None, **kw: Any) -> anthropic.Anthropic:
        kw.setdefault("max_retries", 0)
        kw.setdefault("timeout", 20.0)
        if "auth_token" not in kw and "default_headers" not in kw:
            kw.setdefault("api_key", self.key)
        hooks = (recorder or Recorder()).hooks()
        return anthropic.Anthropic(
            base_url=self.base,
            http_client=anthropic.DefaultHttpxClient(event_hooks=hooks),
            **kw,
        )


# ---------------------------------------------------------------------------------------
# Processes


class Processes:
    """The fake upstream and the proxy; `stop` ends both (by their own handles)."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []
        self.dir = tempfile.mkdtemp(prefix="copilot-api-sdk-")

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
        for p in reversed(self.procs):
            try:
                p.wait(timeout=3)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=3)
        self.procs.clear()

    def start(self, proxy_bin: str, fake_bin: str) -> Stack:
        fake = subprocess.Popen(
            [fake_bin, "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=open(os.path.join(self.dir, "fake.log"), "wb"),
            stdin=subprocess.DEVNULL,
        )
        self.procs.append(fake)
        line = b""
        deadline = time.monotonic() + 15
        while not line.endswith(b"\n") and time.monotonic() < deadline:
            ready, _, _ = select.select([fake.stdout], [], [], 0.1)
            if ready:
                chunk = os.read(fake.stdout.fileno(), 4096)
                if not chunk:
                    break
                line += chunk
        m = re.search(rb"listening on (http://\S+)", line)
        if not m:
            raise RuntimeError(f"the fake upstream did not start: {line!r}")
        fake_url = m.group(1).decode()

        home = os.path.join(self.dir, "home")
        os.makedirs(home)
        key = "sk-sdk-" + secrets.token_hex(12)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.upper().endswith("_PROXY")
            and k not in ("COPILOT_API_KEY", "GITHUB_TOKEN", "GH_TOKEN")
        }
        env.update(
            HOME=home,
            GH_TOKEN="gho_fake_github_token",
            GITHUB_URL=fake_url,
            GITHUB_API_URL=fake_url,
            COPILOT_API_BASE_URL=fake_url,
        )
        log_path = os.path.join(self.dir, "proxy.log")
        log = open(log_path, "wb")
        proxy = subprocess.Popen(
            [
                proxy_bin, "start", "--port", "0", "--api-key", key, "--no-proxy-env",
                # Bounded stalls: a hung stream fails its check instead of the suite.
                "--stall-timeout", "5", "--first-byte-timeout", "10",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        self.procs.append(proxy)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with open(log_path, "rb") as f:
                m = re.search(rb"listening on (http://\S+)", f.read())
            if m:
                return Stack(m.group(1).decode(), key, fake_url, log_path)
            if proxy.poll() is not None:
                break
            time.sleep(0.05)
        with open(log_path, "rb") as f:
            tail = f.read()[-2000:].decode(errors="replace")
        raise RuntimeError(f"the proxy did not start listening:\n{tail}")


# ---------------------------------------------------------------------------------------
# Checks and the runner


@dataclass
class Check:
    name: str
    run: Callable[[Stack], None]


CHECKS: list[Check] = []


def check(name: str, models: list[str] | None = None) -> Callable:
    """Registers a check; with `models`, one check per model, called as fn(stack, model)."""

    def register(fn: Callable) -> Callable:
        if models is None:
            CHECKS.append(Check(name, fn))
        else:
            for m in models:
                CHECKS.append(Check(f"{name} [{KIND[m]} {m}]", lambda s, fn=fn, m=m: fn(s, m)))
        return fn

    return register


class CheckTimeout(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise CheckTimeout("the check ran over its time limit")


def run_checks(stack: Stack, selected: list[Check], limit: float) -> tuple[int, int]:
    passed = failed = 0
    signal.signal(signal.SIGALRM, _alarm)
    for c in selected:
        started = time.monotonic()
        signal.setitimer(signal.ITIMER_REAL, limit)
        try:
            c.run(stack)
            error = None
        except Exception as e:  # noqa: BLE001 - every failure is reported
            error = e
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        took = time.monotonic() - started
        if error is None:
            passed += 1
            print(f"  ok    {took:5.2f}s  {c.name}", flush=True)
        else:
            failed += 1
            print(f"  FAIL  {took:5.2f}s  {c.name}", flush=True)
            detail = str(error) if isinstance(error, AssertionError) else describe(error)
            for line in detail.splitlines() or [type(error).__name__]:
                print(f"          {line}")
            if not isinstance(error, AssertionError):
                frames = traceback.extract_tb(error.__traceback__)
                ours = [f for f in frames if "/tests/sdk/" in f.filename]
                if ours:
                    f = ours[-1]
                    print(f"          at {os.path.basename(f.filename)}:{f.lineno}: {f.line}")
            sys.stdout.flush()
    return passed, failed

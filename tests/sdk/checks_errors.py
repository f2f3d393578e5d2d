"""Error paths through each SDK and each API, for each model kind: a 429 that the SDK
retries, a 400 raised as BadRequestError, an upstream stream cut reported as an error,
and API-key authentication.

How the 429 checks exercise the SDK's own retry: the proxy itself retries a 429 (5
attempts, honouring `Retry-After`) before the client sees anything, so the fake must
refuse more often than that.
- `fail:6:429:TAG` answers 429 (`Retry-After: 0`) to the first six requests carrying
  that marker, then text. The proxy's five attempts all fail, so it forwards the 429
  with its `Retry-After`; the SDK retries, the proxy's next attempt fails again and the
  one after succeeds: the SDK gets its answer on its own retry.
- `status:429:json:retry=0.1` refuses every time: the proxy waits 0.1 s between its
  attempts and forwards the 429 with `Retry-After: 0.1`; the SDK (max_retries=1) waits
  that out, retries once and raises RateLimitError.
"""

from __future__ import annotations

import anthropic
import openai

from harness import MODELS, TEXT, Recorder, check, eq, ok, raises

APIS = ["chat", "responses", "messages"]


def _client(s, api, rec=None, **kw):
    return s.anthropic(rec, **kw) if api == "messages" else s.openai(rec, **kw)


def _create(client, api, model, prompt, **kw):
    """One minimal request; the answer's text (non-stream) or the stream object."""
    if api == "chat":
        r = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": prompt}], **kw)
        return r if kw.get("stream") else r.choices[0].message.content
    if api == "responses":
        r = client.responses.create(model=model, input=[{"role": "user", "content": prompt}], **kw)
        return r if kw.get("stream") else r.output_text
    r = client.messages.create(
        model=model, max_tokens=256, messages=[{"role": "user", "content": prompt}], **kw)
    return r if kw.get("stream") else r.content[0].text


def _each(name):
    """One check per (API, model)."""

    def register(fn):
        for api in APIS:
            check(f"{name} via {api}", MODELS)(lambda s, model, api=api: fn(s, api, model))
        return fn

    return register


@_each("429 with Retry-After: the SDK retries and succeeds")
def retry_succeeds(s, api, model):
    rec = Recorder()
    c = _client(s, api, rec, max_retries=2)
    text = _create(c, api, model, f"Hello scenario:fail:6:429:{api}-{model}")
    eq(text, TEXT, "answer after the SDK's retry")
    statuses = [x.status for x in rec.exchanges]
    ok(len(statuses) >= 2 and statuses[-1] == 200 and set(statuses[:-1]) == {429},
       f"the SDK should have seen 429 then 200: {statuses}")
    eq(rec.exchanges[0].response_headers.get("retry-after"), "0", "Retry-After forwarded")
    eq(rec.exchanges[1].request_headers.get("x-stainless-retry-count"), "1", "the retry is the SDK's")


@_each("429 with Retry-After every time: the SDK retries, then raises RateLimitError")
def retry_exhausted(s, api, model):
    rec = Recorder()
    c = _client(s, api, rec, max_retries=1)
    kind = anthropic.RateLimitError if api == "messages" else openai.RateLimitError
    e = raises(kind, lambda: _create(c, api, model, "Hello scenario:status:429:json:retry=0.1"), "429")
    eq(e.status_code, 429, "status")
    eq(e.response.headers.get("retry-after"), "0.1", "Retry-After")
    eq([x.status for x in rec.exchanges], [429, 429], "requests the SDK made (1 + 1 retry)")
    if api == "messages":
        eq(e.body["type"], "error", "Anthropic error shape")
        eq(e.body["error"]["type"], "rate_limit_error", "error.type")
    else:
        ok("rate-limited" in e.body["message"], f"message: {e.body}")


@_each("upstream 400: the SDK raises BadRequestError")
def bad_request(s, api, model):
    rec = Recorder()
    c = _client(s, api, rec, max_retries=2)
    kind = anthropic.BadRequestError if api == "messages" else openai.BadRequestError
    e = raises(kind, lambda: _create(c, api, model, "Hello scenario:status:400"), "400")
    eq(e.status_code, 400, "status")
    eq(len(rec.exchanges), 1, "a 400 is not retried")
    if api == "messages":
        eq(e.body["type"], "error", "Anthropic error shape")
        eq(e.body["error"]["type"], "invalid_request_error", "error.type")
        eq(e.body["error"]["message"], "fake: the request is invalid", "error.message")
    else:
        eq(e.body["message"], "fake: the request is invalid", "error.message")


@check("proxy-made 400 (a field of the wrong type): BadRequestError naming the field")
def bad_field(s):
    for api in APIS:
        c = _client(s, api)
        kind = anthropic.BadRequestError if api == "messages" else openai.BadRequestError
        e = raises(kind, lambda: _create(c, api, "gpt-4.1", "Hello", extra_body={"temperature": "hot"}),
                   f"{api}: temperature as a string")
        ok("temperature" in str(e.body), f"{api}: the error should name the field: {e.body}")
        if api == "messages":
            eq(e.body["error"]["type"], "invalid_request_error", f"{api}: error.type")


@_each("upstream stream cut: the SDK reports an error")
def stream_cut(s, api, model):
    c = _client(s, api)
    stream = _create(c, api, model, "Hello scenario:drop", stream=True)
    text = ""
    if api == "chat":
        def read():
            nonlocal text
            for chunk in stream:
                for ch in chunk.choices:
                    text += ch.delta.content or ""
                    ok(ch.finish_reason is None, f"a cut stream must not finish: {ch.finish_reason}")
        e = raises(openai.APIError, read, "chat stream")
        ok(e.message, "the error has a message")
    elif api == "responses":
        events = list(stream)
        types = [e.type for e in events]
        text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
        ok("response.completed" not in types, f"a cut stream must not complete: {types}")
        eq(types[-1], "response.failed", "last event")
        failed = events[-1].response
        eq(failed.status, "failed", "status")
        ok(failed.error is not None and failed.error.message, f"response.error: {failed.error}")
        # The helper turns it into an exception.
        with c.responses.stream(model=model, input="Hello scenario:drop") as helper:
            raises(RuntimeError, helper.get_final_response, "responses .stream() helper")
    else:
        seen = []

        def read():
            nonlocal text
            for e in stream:
                seen.append(e.type)
                if e.type == "content_block_delta" and e.delta.type == "text_delta":
                    text += e.delta.text
                ok(e.type != "message_stop", "a cut stream must not stop normally")
        e = raises(anthropic.APIStatusError, read, "messages stream")
        eq(seen[-1], "content_block_stop", "the open block is closed before the error event")
        eq(e.body["type"], "error", "Anthropic error event")
        ok(e.body["error"]["type"] in ("api_error", "overloaded_error"), f"error.type: {e.body}")
        ok(e.body["error"]["message"], "error.message")
    eq(text, "Hello", "text received before the cut")


@check("auth: a wrong key is refused by both SDKs with AuthenticationError")
def wrong_key(s):
    e = raises(openai.AuthenticationError,
               lambda: s.openai(api_key="sk-wrong").chat.completions.create(
                   model="gpt-4.1", messages=[{"role": "user", "content": "hi"}]), "openai")
    eq(e.status_code, 401, "openai status")
    e = raises(anthropic.AuthenticationError,
               lambda: s.anthropic(api_key="sk-wrong").messages.create(
                   model="claude-sonnet-4.5", max_tokens=10,
                   messages=[{"role": "user", "content": "hi"}]), "anthropic")
    eq(e.status_code, 401, "anthropic status")
    e = raises(openai.AuthenticationError,
               lambda: s.openai(api_key="sk-wrong").models.list(), "models without the key")


@check("auth: x-api-key with anthropic-version 2023-06-01 (other Anthropic clients) is accepted")
def x_api_key(s):
    rec = Recorder()
    headers = {"x-api-key": s.key, "anthropic-version": "2023-06-01"}
    a = s.anthropic(rec, api_key=None, default_headers=headers)
    for model in ("claude-sonnet-4.5", "gpt-4.1"):
        r = a.messages.create(model=model, max_tokens=64, messages=[{"role": "user", "content": "hi"}])
        eq(r.content[0].text, TEXT, f"{model}: text")
    sent = rec.exchanges[0].request_headers
    eq(sent.get("x-api-key"), s.key, "x-api-key sent")
    eq(sent.get("anthropic-version"), "2023-06-01", "anthropic-version sent")
    ok("authorization" not in sent, f"no Authorization header: {sent.get('authorization')}")

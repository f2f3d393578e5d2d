"""The official `anthropic` SDK against the proxy: models, Messages (native for Claude,
translated for the others), thinking with its signature, structured output and
count_tokens, for each model kind. Two-turn checks drop the `scenario:` marker from the
replayed first message, as in checks_openai.py."""

from __future__ import annotations

import json

from harness import (
    ANSWER,
    MODELS,
    TEXT,
    Recorder,
    check,
    eq,
    ok,
    upstream,
)

PROMPT = "What's the weather in Paris?"
SYSTEM = [{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}]


def _schema(props) -> dict:
    return {
        "type": "object",
        "properties": {k: {"type": "string"} for k in props},
        "required": list(props),
        "additionalProperties": False,
    }


TOOLS = [
    {"name": n, "description": f"{n} tool", "input_schema": _schema(a)}
    for n, a in {"get_weather": ["city"], "get_time": ["tz"], "exec_command": ["cmd"]}.items()
]


@check("anthropic models.list")
def models_list(s):
    page = s.anthropic().models.list()
    by_id = {m.id: m for m in page.data}
    for want in MODELS:
        ok(want in by_id, f"{want} missing from models.list: {list(by_id)}")
    eq(by_id["claude-sonnet-4.5"].display_name, "Claude Sonnet 4.5", "display_name")
    eq(by_id["claude-sonnet-4.5"].type, "model", "type")
    ok(by_id["gpt-4.1"].created_at is not None, "created_at")
    eq(page.has_more, False, "has_more")
    eq((page.first_id, page.last_id), (page.data[0].id, page.data[-1].id), "first_id, last_id")
    every = [m.id for m in s.anthropic().models.list()]  # auto-pagination stops after one page
    eq(every, list(by_id), "auto-paginated ids")
    one = s.anthropic().models.retrieve("claude-sonnet-4.5")
    eq((one.id, one.display_name), ("claude-sonnet-4.5", "Claude Sonnet 4.5"), "models.retrieve")


@check("anthropic messages.create non-stream, tools, cache_control system, 2 turns", MODELS)
def messages_tools(s, model):
    route = upstream("messages", model)
    rec = Recorder()
    a = s.anthropic(rec)
    r = a.messages.create(
        model=model, max_tokens=1024, system=SYSTEM, tools=TOOLS,
        messages=[{"role": "user", "content": f"{PROMPT} scenario:tools"}],
    )
    sent = rec.exchanges[0]
    # anthropic 2.12 sends the key as a Bearer token and its own API version
    # (reference/clients.md §5); both must be accepted.
    eq(sent.request_headers.get("authorization"), f"Bearer {s.key}", "the SDK's auth header")
    eq(sent.request_headers.get("anthropic-version"), "2026-10-21", "the SDK's anthropic-version")
    eq(sent.request_body["system"][0]["cache_control"], {"type": "ephemeral"}, "cache_control sent")
    eq(r.type, "message", "type")
    eq(r.role, "assistant", "role")
    eq(r.model, model, "model")
    eq(r.stop_reason, "tool_use", "stop_reason")
    uses = [(b.id, b.name, b.input) for b in r.content if b.type == "tool_use"]
    eq(uses, route["tools"], "tool_use blocks (id, name, input)")
    texts = [b.text for b in r.content if b.type == "text"]
    eq(texts, [route["tools_text"]] if route["tools_text"] else [], "text blocks")
    eq((r.usage.input_tokens, r.usage.output_tokens), (12, 5), "usage")

    messages = [
        {"role": "user", "content": PROMPT},
        {"role": "assistant", "content": r.content},  # the SDK's own blocks
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": u[0], "content": "sunny, 21 C"} for u in uses
        ]},
    ]
    r2 = a.messages.create(model=model, max_tokens=1024, system=SYSTEM, tools=TOOLS, messages=messages)
    eq([b.type for b in r2.content], ["text"], "turn 2 blocks")
    eq(r2.content[0].text, TEXT, "turn 2 text")
    eq(r2.stop_reason, "end_turn", "turn 2 stop_reason")


@check("anthropic messages.create stream (raw events), tools, 2 turns", MODELS)
def messages_stream_tools(s, model):
    route = upstream("messages", model)
    a = s.anthropic()
    events = list(a.messages.create(
        model=model, max_tokens=1024, system=SYSTEM, tools=TOOLS, stream=True,
        messages=[{"role": "user", "content": f"{PROMPT} scenario:tools"}],
    ))
    types = [e.type for e in events]
    eq(types[0], "message_start", "first event")
    eq(types[-1], "message_stop", "last event")
    eq(events[0].message.model, model, "message_start model")
    blocks: dict[int, dict] = {}
    stop_reason = None
    for e in events:
        if e.type == "content_block_start":
            blocks[e.index] = {"block": e.content_block, "json": "", "text": "", "stopped": False}
        elif e.type == "content_block_delta":
            if e.delta.type == "input_json_delta":
                blocks[e.index]["json"] += e.delta.partial_json
            elif e.delta.type == "text_delta":
                blocks[e.index]["text"] += e.delta.text
        elif e.type == "content_block_stop":
            blocks[e.index]["stopped"] = True
        elif e.type == "message_delta":
            stop_reason = e.delta.stop_reason
    ok(all(b["stopped"] for b in blocks.values()), "a content block was never stopped")
    uses = [(b["block"].id, b["block"].name, json.loads(b["json"]))
            for _, b in sorted(blocks.items()) if b["block"].type == "tool_use"]
    eq(uses, route["tools"], "streamed tool_use blocks (id, name, input)")
    texts = [b["text"] for _, b in sorted(blocks.items()) if b["block"].type == "text"]
    eq(texts, [route["tools_text"]] if route["tools_text"] else [], "streamed text blocks")
    eq(stop_reason, "tool_use", "message_delta stop_reason")

    messages = [
        {"role": "user", "content": PROMPT},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": i, "name": n, "input": inp} for i, n, inp in uses
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": i, "content": "done"} for i, _, _ in uses
        ]},
    ]
    text, stop_reason, last = "", None, None
    for e in a.messages.create(model=model, max_tokens=1024, system=SYSTEM, tools=TOOLS,
                               messages=messages, stream=True):
        if e.type == "content_block_delta" and e.delta.type == "text_delta":
            text += e.delta.text
        if e.type == "message_delta":
            stop_reason = e.delta.stop_reason
        last = e.type
    eq(text, TEXT, "turn 2 streamed text")
    eq(stop_reason, "end_turn", "turn 2 stop_reason")
    eq(last, "message_stop", "turn 2 last event")


@check("anthropic messages.stream() helper, thinking enabled, signature round trip", MODELS)
def messages_thinking(s, model):
    route = upstream("messages", model)
    a = s.anthropic()
    thinking = {"type": "enabled", "budget_tokens": 1024}
    got = {"thinking": "", "signature": "", "text": ""}
    with a.messages.stream(
        model=model, max_tokens=2048, thinking=thinking,
        messages=[{"role": "user", "content": "What is 2+2? scenario:reasoning"}],
    ) as stream:
        for e in stream:
            if e.type == "thinking":
                got["thinking"] += e.thinking
            elif e.type == "signature":
                got["signature"] += e.signature
            elif e.type == "text":
                got["text"] += e.text
        final = stream.get_final_message()
    eq(got, {"thinking": route["thinking"], "signature": route["signature"], "text": ANSWER},
       "helper events")
    eq([b.type for b in final.content], ["thinking", "text"], "final blocks")
    eq(final.content[0].thinking, route["thinking"], "thinking block")
    eq(final.content[0].signature, route["signature"], "signature")
    eq(final.content[1].text, ANSWER, "text block")
    eq(final.stop_reason, "end_turn", "stop_reason")

    # The round trip: the thinking block goes back with its signature, as Anthropic
    # requires for the next turn.
    messages = [
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": final.content[0].thinking,
             "signature": final.content[0].signature},
            {"type": "text", "text": final.content[1].text},
        ]},
        {"role": "user", "content": "And 3+3?"},
    ]
    with a.messages.stream(model=model, max_tokens=2048, thinking=thinking, messages=messages) as stream:
        text = stream.get_final_text()
    eq(text, TEXT, "turn 2 text")


@check("anthropic messages.create output_config json_schema (param and extra_body)", MODELS)
def messages_output_config(s, model):
    rec = Recorder()
    a = s.anthropic(rec)
    fmt = {"format": {"type": "json_schema", "schema": _schema(["city", "sky"])}}
    messages = [{"role": "user", "content": "Weather in Paris as JSON."}]
    r1 = a.messages.create(model=model, max_tokens=512, messages=messages, output_config=fmt)
    r2 = a.messages.create(model=model, max_tokens=512, messages=messages, extra_body={"output_config": fmt})
    for x in rec.exchanges:
        eq(x.request_body.get("output_config"), fmt, "what the SDK sent")
    # The fake answers its canned text whatever the format; the check is that the
    # request is accepted and routed (a mistranslated format would be an error).
    for r in (r1, r2):
        eq([b.type for b in r.content], ["text"], "blocks")
        eq(r.content[0].text, TEXT, "text")
        eq(r.stop_reason, "end_turn", "stop_reason")


@check("anthropic beta.messages.create (anthropic-beta header)", MODELS)
def beta_messages(s, model):
    rec = Recorder()
    r = s.anthropic(rec).beta.messages.create(
        model=model, max_tokens=256, betas=["interleaved-thinking-2025-05-14"],
        messages=[{"role": "user", "content": "Hi"}],
    )
    eq(rec.exchanges[0].request_headers.get("anthropic-beta"), "interleaved-thinking-2025-05-14",
       "the SDK's anthropic-beta")
    eq([b.type for b in r.content], ["text"], "blocks")
    eq(r.content[0].text, TEXT, "text")


@check("anthropic: an alias with a date stamp reaches the native endpoint; the answer names it")
def alias(s):
    route = upstream("messages", "claude-sonnet-4.5")
    r = s.anthropic().messages.create(
        model="claude-sonnet-4-5-20250929", max_tokens=256, tools=TOOLS,
        messages=[{"role": "user", "content": f"{PROMPT} scenario:tools"}],
    )
    eq(r.model, "claude-sonnet-4-5-20250929", "model")
    # Only the native endpoint answers with this one call; unresolved, the id would go
    # to /chat/completions, whose answer has two.
    eq([(b.id, b.name, b.input) for b in r.content if b.type == "tool_use"], route["tools"],
       "tool_use blocks (native answer)")


COUNT_MESSAGES = [{"role": "user", "content": "Hello, how are you today?"}]


def _count(a, model, **kw) -> int:
    return a.messages.count_tokens(model=model, messages=kw.pop("messages", COUNT_MESSAGES), **kw).input_tokens


@check("anthropic messages.count_tokens", MODELS)
def count_tokens(s, model):
    a = s.anthropic()
    plain = _count(a, model)
    ok(isinstance(plain, int) and plain > 0, f"input_tokens: {plain!r}")
    longer = _count(a, model, messages=[{"role": "user", "content": "Hello, how are you today? " * 40}])
    ok(longer > plain + 200, f"40 times the text counts {longer}, once {plain}")
    with_tools = _count(a, model, system=SYSTEM, tools=TOOLS)
    ok(with_tools > plain + 30, f"system and three tools add too little: {with_tools} vs {plain}")
    again = _count(a, model)
    eq(again, plain, "the same request counts the same")


@check("anthropic messages.count_tokens: Claude counts no lower than o200k")
def count_tokens_claude(s):
    a = s.anthropic()
    gpt, claude = _count(a, "gpt-4.1"), _count(a, "claude-sonnet-4.5")
    ok(claude >= gpt, f"claude {claude} < gpt-4.1 {gpt}: an undercount ends in context errors")

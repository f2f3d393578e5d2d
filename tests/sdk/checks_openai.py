"""The official `openai` SDK against the proxy: models, Chat Completions, Responses and
embeddings, for each model kind (chat-only, responses-only, messages-capable).

Two-turn checks send the second turn with the first user message *without* its
`scenario:` marker: the fake picks its answer from the last user message, so the second
turn gets the plain text answer, which proves the tool round trip went through and
was answered.
"""

from __future__ import annotations

import json

import openai
from pydantic import BaseModel

from harness import (
    ANSWER,
    MODELS,
    TEXT,
    USAGE_TOTAL,
    ROUTE,
    Recorder,
    check,
    eq,
    fake_embedding,
    ok,
    raises,
    upstream,
)

PROMPT = "What's the weather in Paris?"


def _params(props: dict) -> dict:
    return {
        "type": "object",
        "properties": {k: {"type": "string"} for k in props},
        "required": list(props),
        "additionalProperties": False,
    }


# The tools the fake's answers call, on any upstream: chat calls get_weather and
# get_time, responses calls exec_command (twice).
TOOL_ARGS = {"get_weather": ["city"], "get_time": ["tz"], "exec_command": ["cmd"]}
CHAT_TOOLS = [
    {"type": "function", "function": {"name": n, "description": f"{n} tool", "parameters": _params(a)}}
    for n, a in TOOL_ARGS.items()
]
RESPONSES_TOOLS = [
    {"type": "function", "name": n, "description": f"{n} tool", "parameters": _params(a), "strict": False}
    for n, a in TOOL_ARGS.items()
]


class GetWeather(BaseModel):
    city: str


class GetTime(BaseModel):
    tz: str


class ExecCommand(BaseModel):
    cmd: str


PYDANTIC_TOOLS = [
    openai.pydantic_function_tool(GetWeather, name="get_weather"),
    openai.pydantic_function_tool(GetTime, name="get_time"),
    openai.pydantic_function_tool(ExecCommand, name="exec_command"),
]


# ---------------------------------------------------------------------------------------
# Models


@check("openai models.list: the catalog with supported_endpoints")
def models_list(s):
    rec = Recorder()
    page = s.openai(rec).models.list()
    eq(rec.exchanges[0].request_headers.get("authorization"), f"Bearer {s.key}", "auth header sent")
    ids = [m.id for m in page.data]
    for want in MODELS + ["text-embedding-3-small"]:
        ok(want in ids, f"{want} missing from models.list: {ids}")
    by_id = {m.id: m for m in page.data}
    eq(by_id["gpt-5.2-codex"].supported_endpoints, ["/responses"], "gpt-5.2-codex supported_endpoints")
    eq(by_id["claude-sonnet-4.5"].object, "model", "object")
    eq([m.id for m in s.openai().models.list()], ids, "auto-paginated ids")


CATALOG = {
    "gpt-4.1": ("Azure OpenAI", 128000, 16384, ["/chat/completions"]),
    "gpt-5.2-codex": ("OpenAI", 400000, 128000, ["/responses"]),
    "claude-sonnet-4.5": ("Anthropic", 200000, 16000, ["/chat/completions", "/v1/messages"]),
}


@check("openai models.retrieve", MODELS)
def models_retrieve(s, model):
    m = s.openai().models.retrieve(model)
    owner, window, out, endpoints = CATALOG[model]
    eq(m.id, model, "id")
    eq(m.owned_by, owner, "owned_by")
    eq(m.context_window, window, "context_window")
    eq(m.max_output_tokens, out, "max_output_tokens")
    eq(m.supported_endpoints, endpoints, "supported_endpoints")


@check("openai models.retrieve of an unknown id raises NotFoundError")
def models_retrieve_unknown(s):
    e = raises(openai.NotFoundError, lambda: s.openai().models.retrieve("no-such-model"), "retrieve")
    eq(e.status_code, 404, "status")


# ---------------------------------------------------------------------------------------
# Chat Completions


def _calls(tool_calls):
    return [(t.id, t.function.name, json.loads(t.function.arguments)) for t in tool_calls or []]


@check("openai chat.completions non-stream, tools, 2 turns", MODELS)
def chat_tools(s, model):
    want = upstream("chat", model)["tools"]
    c = s.openai()
    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": f"{PROMPT} scenario:tools"},
    ]
    r = c.chat.completions.create(model=model, messages=messages, tools=CHAT_TOOLS)
    eq(r.object, "chat.completion", "object")
    eq(r.model, model, "model")
    choice = r.choices[0]
    eq(choice.finish_reason, "tool_calls", "finish_reason")
    eq(_calls(choice.message.tool_calls), want, "tool calls (id, name, arguments)")
    eq(r.usage.total_tokens, USAGE_TOTAL, "usage.total_tokens")

    messages[1] = {"role": "user", "content": PROMPT}
    messages.append(choice.message)  # the SDK's own object, as the docs show
    for t in choice.message.tool_calls:
        messages.append({"role": "tool", "tool_call_id": t.id, "content": "sunny, 21 C"})
    r2 = c.chat.completions.create(model=model, messages=messages, tools=CHAT_TOOLS)
    eq(r2.choices[0].message.content, TEXT, "turn 2 content")
    eq(r2.choices[0].finish_reason, "stop", "turn 2 finish_reason")


@check("openai chat.completions stream, tools + include_usage, 2 turns", MODELS)
def chat_stream_tools(s, model):
    want = upstream("chat", model)["tools"]
    c = s.openai()
    messages = [{"role": "user", "content": f"{PROMPT} scenario:tools"}]
    calls: dict[int, dict] = {}
    finish, usage, count = None, None, 0
    for chunk in c.chat.completions.create(
        model=model, messages=messages, tools=CHAT_TOOLS, stream=True,
        stream_options={"include_usage": True},
    ):
        count += 1
        eq(chunk.object, "chat.completion.chunk", "chunk object")
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            for d in choice.delta.tool_calls or []:
                call = calls.setdefault(d.index, {"id": None, "name": "", "arguments": ""})
                if d.id:
                    call["id"] = d.id
                if d.function and d.function.name:
                    call["name"] += d.function.name
                if d.function and d.function.arguments:
                    call["arguments"] += d.function.arguments
    got = [(v["id"], v["name"], json.loads(v["arguments"])) for _, v in sorted(calls.items())]
    eq(got, want, "streamed tool calls")
    eq(finish, "tool_calls", "finish_reason")
    ok(usage is not None, "no usage chunk although include_usage was set")
    eq(usage.total_tokens, USAGE_TOTAL, "usage.total_tokens")

    messages = [
        {"role": "user", "content": PROMPT},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": v["id"], "type": "function",
                 "function": {"name": v["name"], "arguments": v["arguments"]}}
                for _, v in sorted(calls.items())
            ],
        },
        *[{"role": "tool", "tool_call_id": v["id"], "content": "done"} for v in calls.values()],
    ]
    text, finish = "", None
    for chunk in c.chat.completions.create(
        model=model, messages=messages, tools=CHAT_TOOLS, stream=True
    ):
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
    eq(text, TEXT, "turn 2 streamed text")
    eq(finish, "stop", "turn 2 finish_reason")


@check("openai chat.completions .stream() helper, parsed tool calls then text", MODELS)
def chat_stream_helper(s, model):
    want = upstream("chat", model)["tools"]
    c = s.openai()
    messages = [{"role": "user", "content": f"{PROMPT} scenario:tools"}]
    done_events = []
    with c.chat.completions.stream(model=model, messages=messages, tools=PYDANTIC_TOOLS) as stream:
        for event in stream:
            if event.type == "tool_calls.function.arguments.done":
                done_events.append((event.name, event.parsed_arguments.model_dump()))
        final = stream.get_final_completion()
    eq(done_events, [(n, a) for _, n, a in want], "arguments.done events (name, parsed)")
    calls = final.choices[0].message.tool_calls
    eq([(t.id, t.function.name, t.function.parsed_arguments.model_dump()) for t in calls], want,
       "final completion's parsed tool calls")

    messages = [{"role": "user", "content": "Say hello."}]
    deltas, done = "", None
    with c.chat.completions.stream(model=model, messages=messages) as stream:
        for event in stream:
            if event.type == "content.delta":
                deltas += event.delta
            elif event.type == "content.done":
                done = event.content
        final = stream.get_final_completion()
    eq(deltas, TEXT, "content.delta events")
    eq(done, TEXT, "content.done event")
    eq(final.choices[0].message.content, TEXT, "final completion content")
    eq(final.choices[0].finish_reason, "stop", "finish_reason")


@check("openai chat.completions response_format json_schema", MODELS)
def chat_json_schema(s, model):
    rec = Recorder()
    r = s.openai(rec).chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "Weather in Paris as JSON."}],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "weather", "strict": True, "schema": _params({"city": 1, "sky": 1})},
        },
    )
    eq(rec.exchanges[0].request_body["response_format"]["type"], "json_schema", "what the SDK sent")
    # The fake answers its canned text whatever the format; the check is that the
    # request is accepted and routed (a mistranslated format would be a 400).
    eq(r.choices[0].message.content, TEXT, "content")
    eq(r.choices[0].finish_reason, "stop", "finish_reason")


@check("openai chat: a loose model id is resolved (routing follows the catalog); the answer names it")
def chat_alias(s):
    r = s.openai().chat.completions.create(
        model="GPT-5-2-Codex", tools=CHAT_TOOLS,
        messages=[{"role": "user", "content": f"{PROMPT} scenario:tools"}],
    )
    eq(r.model, "GPT-5-2-Codex", "model")
    # Resolved to gpt-5.2-codex, the request is translated to /responses, whose answer
    # calls exec_command; unresolved, it would go to /chat/completions as named.
    eq(_calls(r.choices[0].message.tool_calls), upstream("chat", "gpt-5.2-codex")["tools"],
       "tool calls (the /responses answer)")


# ---------------------------------------------------------------------------------------
# Responses


def _function_calls(output):
    return [(o.call_id, o.name, json.loads(o.arguments)) for o in output if o.type == "function_call"]


@check("openai responses.create non-stream, function tool, 2 turns", MODELS)
def responses_tools(s, model):
    want = upstream("responses", model)["tools"]
    c = s.openai()
    r = c.responses.create(
        model=model, instructions="You are terse.",
        input=[{"role": "user", "content": f"{PROMPT} scenario:tools"}], tools=RESPONSES_TOOLS,
    )
    eq(r.object, "response", "object")
    eq(r.status, "completed", "status")
    eq(r.model, model, "model")
    eq(_function_calls(r.output), want, "function calls (call_id, name, arguments)")
    eq(r.usage.total_tokens, USAGE_TOTAL, "usage.total_tokens")

    turn2 = [{"role": "user", "content": PROMPT}, *r.output]  # the SDK's own items
    turn2 += [{"type": "function_call_output", "call_id": cid, "output": "sunny"} for cid, _, _ in want]
    r2 = c.responses.create(model=model, instructions="You are terse.", input=turn2, tools=RESPONSES_TOOLS)
    eq(r2.status, "completed", "turn 2 status")
    eq(r2.output_text, TEXT, "turn 2 output_text")


@check("openai responses.create stream, function tool, 2 turns", MODELS)
def responses_stream_tools(s, model):
    want = upstream("responses", model)["tools"]
    c = s.openai()
    events = list(c.responses.create(
        model=model, input=f"{PROMPT} scenario:tools", tools=RESPONSES_TOOLS, stream=True
    ))
    types = [e.type for e in events]
    eq(types[0], "response.created", "first event")
    eq(types[-1], "response.completed", "last event")
    seq = [e.sequence_number for e in events]
    ok(seq == sorted(seq) and len(set(seq)) == len(seq), f"sequence_number not rising: {seq}")
    args_done = [json.loads(e.arguments) for e in events if e.type == "response.function_call_arguments.done"]
    eq(args_done, [a for _, _, a in want], "function_call_arguments.done")
    items = [e.item for e in events if e.type == "response.output_item.done"]
    eq(_function_calls(items), want, "output_item.done calls")
    final = events[-1].response
    eq(final.status, "completed", "status")
    eq(_function_calls(final.output), want, "response.completed output")
    ok(final.usage is not None and final.usage.total_tokens == USAGE_TOTAL,
       f"response.completed usage: {final.usage}")

    turn2 = [{"role": "user", "content": PROMPT}, *final.output]
    turn2 += [{"type": "function_call_output", "call_id": cid, "output": "ok"} for cid, _, _ in want]
    text, last = "", None
    for e in c.responses.create(model=model, input=turn2, tools=RESPONSES_TOOLS, stream=True):
        if e.type == "response.output_text.delta":
            text += e.delta
        last = e
    eq(text, TEXT, "turn 2 output_text deltas")
    eq(last.type, "response.completed", "turn 2 last event")
    eq(last.response.output_text, TEXT, "turn 2 output_text")


@check("openai responses previous_response_id", MODELS)
def responses_previous(s, model):
    route = upstream("responses", model)
    want = route["tools"]
    c = s.openai()
    r1 = c.responses.create(model=model, input=f"{PROMPT} scenario:tools", tools=RESPONSES_TOOLS)
    eq(_function_calls(r1.output), want, "turn 1 calls")
    outputs = [{"type": "function_call_output", "call_id": cid, "output": "sunny"} for cid, _, _ in want]
    r2 = c.responses.create(
        model=model, previous_response_id=r1.id, input=outputs, tools=RESPONSES_TOOLS
    )
    eq(r2.status, "completed", "turn 2 status")
    if ROUTE[("responses", model)] == "responses":
        # Passed through: Copilot keeps the chain. The fake is stateless and sees no
        # marker in the outputs alone, so it answers text.
        eq(r2.output_text, TEXT, "turn 2 output_text")
    else:
        # Translated: the proxy replays the stored turn 1 (its user message carries the
        # tools marker), so the fake answers with the calls again. Without the replay
        # it would see no user message and answer text.
        eq(_function_calls(r2.output), want, "turn 2 calls (turn 1 replayed by the proxy)")
        ok(r2.id != r1.id, "turn 2 has its own id")
        e = raises(openai.BadRequestError, lambda: c.responses.create(
            model=model, previous_response_id="resp_unknown0000000", input="hi"), "unknown id")
        ok("previous_response_id" in str(e), f"message should name previous_response_id: {e}")


@check("openai responses stream, reasoning + include encrypted_content, round trip", MODELS)
def responses_reasoning(s, model):
    route = upstream("responses", model)
    c = s.openai()
    summary, completed = "", None
    for e in c.responses.create(
        model=model, input="What is 2+2? scenario:reasoning",
        reasoning={"effort": "medium", "summary": "auto"},
        include=["reasoning.encrypted_content"], stream=True,
    ):
        if e.type == "response.reasoning_summary_text.delta":
            summary += e.delta
        if e.type == "response.completed":
            completed = e.response
    ok(completed is not None, "no response.completed")
    eq(summary, route["thinking"], "reasoning summary deltas")
    reasoning = [o for o in completed.output if o.type == "reasoning"]
    eq(len(reasoning), 1, "reasoning items")
    eq([p.text for p in reasoning[0].summary], [route["thinking"]], "reasoning summary")
    eq(reasoning[0].encrypted_content, route["encrypted"], "encrypted_content")
    eq(completed.output_text, ANSWER, "output_text")

    turn2 = [{"role": "user", "content": "What is 2+2?"}, *completed.output,
             {"role": "user", "content": "And 3+3?"}]
    r2 = c.responses.create(model=model, input=turn2, include=["reasoning.encrypted_content"],
                            reasoning={"effort": "medium"})
    eq(r2.status, "completed", "turn 2 status")
    eq(r2.output_text, TEXT, "turn 2 output_text")


@check("openai responses .stream() helper", MODELS)
def responses_stream_helper(s, model):
    c = s.openai()
    deltas = ""
    with c.responses.stream(model=model, input="Say hello.") as stream:
        for e in stream:
            if e.type == "response.output_text.delta":
                deltas += e.delta
        final = stream.get_final_response()
    eq(deltas, TEXT, "output_text deltas")
    eq(final.output_text, TEXT, "final output_text")
    eq(final.status, "completed", "status")

    want = upstream("responses", model)["tools"]
    with c.responses.stream(model=model, input=f"{PROMPT} scenario:tools", tools=RESPONSES_TOOLS) as stream:
        final = stream.get_final_response()
    eq(_function_calls(final.output), want, "final function calls")


# ---------------------------------------------------------------------------------------
# Embeddings


@check("openai embeddings.create default (base64 on the wire)")
def embeddings_default(s):
    rec = Recorder()
    raw = s.openai(rec).embeddings.with_raw_response.create(
        model="text-embedding-3-small", input=["alpha", "beta"]
    )
    eq(rec.exchanges[0].request_body.get("encoding_format"), "base64", "what the SDK asked for")
    wire = raw.http_response.json()["data"][0]["embedding"]
    ok(isinstance(wire, str), f"the proxy answered floats to a base64 request: {str(wire)[:80]}")
    r = raw.parse()
    eq(len(r.data), 2, "vectors")
    for i, d in enumerate(r.data):
        eq(d.index, i, "index")
        eq(len(d.embedding), 1536, "dimensions")
        eq(d.embedding, fake_embedding(i, 1536), f"vector {i}")
    eq(r.model, "text-embedding-3-small", "model")


@check("openai embeddings.create encoding_format float, dimensions")
def embeddings_float(s):
    raw = s.openai().embeddings.with_raw_response.create(
        model="text-embedding-3-small", input=["alpha", "beta", "gamma"],
        encoding_format="float", dimensions=8,
    )
    ok(isinstance(raw.http_response.json()["data"][0]["embedding"], list), "floats on the wire")
    r = raw.parse()
    eq([d.embedding for d in r.data], [fake_embedding(i, 8) for i in range(3)], "vectors")
    eq(r.usage.prompt_tokens, 12, "usage.prompt_tokens")

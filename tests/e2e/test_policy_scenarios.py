"""The policy scenario corpus (`scenarios/policies.json`): attack conversations (untrusted
tool output followed by exfiltration or destructive calls, split over many stream chunks or
hidden among parallel calls) and benign ones, each run through the gateway in every
provider format, streamed and not, with the official SDKs as clients. The mock provider
plays a model that obeys directives in the conversation; the gateway's policies decide what
reaches the client. Prints the blocked-attack rate and the false-block rate (targets: 100 %
and 0 %) and fails below them."""

import json
import uuid
from pathlib import Path

import anthropic
import boto3
import botocore.config
import cohere
import openai
import pytest
from google import genai
from google.genai import types as genai_types

from conftest import Stack, running, samples, scrape, value

CORPUS = json.loads((Path(__file__).parent / "scenarios" / "policies.json").read_text())
TOOLS = [
    "send_email", "delete_repo", "delete_file", "fetch_url", "http_request", "run_shell",
    "post_comment", "transfer_funds", "write_file", "share_document", "get_weather",
    "read_calendar", "search_wiki", "read_file", "list_files", "read_email", "create_event",
]  # fmt: skip
REFUSAL = "[Gatehouse] The call to tool `{}` was blocked"


def tool_policy(tool, action, reason, conditions=()):
    return {"tool_name": tool, "action": action, "reason": reason, "conditions": list(conditions)}


def cond(path, operator, value=None):
    return {"path": path, "operator": operator, "value": value}


TOOL_POLICIES = [
    tool_policy("send_email", "block_when_context_is_untrusted", "no mail once untrusted content is in play"),
    tool_policy("send_email", "allow_always", "mail to us is fine", [cond("$.to", "ends_with", "@corp.example")]),
    tool_policy("delete_*", "block_always", "nothing is deleted by an agent"),
    tool_policy("fetch_url", "block_when_context_is_untrusted", "no fetches once untrusted"),
    tool_policy("http_request", "block_when_context_is_untrusted", "no requests once untrusted"),
    tool_policy("run_shell", "block_always", "dangerous command", [cond("$.command", "regex", r"rm\s+-rf|curl|wget")]),
    tool_policy("post_comment", "block_when_context_is_untrusted", "no comments once untrusted"),
    tool_policy("transfer_funds", "block_when_context_is_untrusted", "no transfers once untrusted"),
    tool_policy("write_file", "block_always", "system files are off limits", [cond("$.path", "starts_with", "/etc/")]),
    tool_policy("share_document", "block_when_context_is_untrusted", "no sharing once untrusted"),
    tool_policy(
        "share_document", "allow_always", "colleagues only", [cond("$.recipients[*]", "ends_with", "@corp.example")]
    ),
]
DATA_POLICIES = [
    {"tool_name": "get_weather", "action": "mark_as_trusted"},
    {"tool_name": "read_calendar", "action": "mark_as_trusted"},
    {"tool_name": "list_files", "action": "mark_as_trusted"},
    {
        "tool_name": "search_wiki",
        "action": "mark_as_trusted",
        "conditions": [cond("$.source", "starts_with", "https://wiki.corp.example/")],
    },
    {
        "tool_name": "read_file",
        "action": "block",
        "description": "it holds a cloud credential",
        "conditions": [cond("$..text", "regex", "AKIA[0-9A-Z]{16}")],
    },
]
PROVIDERS = ["openai", "anthropic", "gemini", "bedrock", "cohere"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A stack of its own: other tests create organization-wide policies and change the
    global tool policy, which would apply to this profile too."""
    with running(Stack(tmp_path_factory.mktemp("policies"))) as s:
        yield s


@pytest.fixture(scope="module")
def world(stack):
    profile = stack.create("/profiles", {"name": "policies-" + uuid.uuid4().hex[:8]})["id"]
    for p in TOOL_POLICIES:
        stack.create("/tool-invocation-policies", {**p, "profile_id": profile})
    for p in DATA_POLICIES:
        stack.create("/trusted-data-policies", {"conditions": [], **p, "profile_id": profile})
    keys = {
        provider: stack.create(
            "/provider-keys",
            {"name": f"pol-{provider}-{uuid.uuid4().hex[:6]}", "provider": provider, "secret": "up-" + provider},
        )["id"]
        for provider in PROVIDERS
    }
    vk = stack.create("/virtual-keys", {"name": "policies", "profile_id": profile, "provider_keys": keys})
    return {"profile": profile, "vk": vk["token"]}


def directives(calls):
    return " ".join(f"<<call:{c['tool']} {c.get('raw') or json.dumps(c['args'])}>>" for c in calls)


def conversation(s):
    """(user text, [(tool, args, result text)]) with the directives in the last message."""
    steps = [(h["tool"], h["args"], json.loads(json.dumps(h["result"]))) for h in s["history"]]
    user = s["user"]
    if steps:
        result = steps[-1][2]
        result["note"] = directives(s["calls"])
    else:
        user = f"{user} {directives(s['calls'])}"
    return user, [(tool, args, json.dumps(result)) for tool, args, result in steps]


def headers(s):
    return {"X-Gatehouse-Context-Untrusted": "true"} if s.get("untrusted_header") else {}


# One runner per format: (client, scenario, stream) -> (tool names the client got, text). ----


def chat_messages(s):
    user, steps = conversation(s)
    messages = [{"role": "user", "content": user}]
    for i, (tool, args, result) in enumerate(steps):
        call = {"id": f"h{i}", "type": "function", "function": {"name": tool, "arguments": json.dumps(args)}}
        messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        messages.append({"role": "tool", "tool_call_id": f"h{i}", "content": result})
    return messages


def openai_chat(client, s, stream):
    tools = [{"type": "function", "function": {"name": t, "parameters": {"type": "object"}}} for t in TOOLS]
    args = dict(model="gpt-4o-mini", messages=chat_messages(s), tools=tools, extra_headers=headers(s))
    if stream:
        with client.chat.completions.stream(**args) as events:
            for _ in events:
                pass
            message = events.get_final_completion().choices[0].message
    else:
        message = client.chat.completions.create(**args).choices[0].message
    return [c.function.name for c in message.tool_calls or []], message.content or ""


def openai_responses(client, s, stream):
    user, steps = conversation(s)
    items = [{"role": "user", "content": user}]
    for i, (tool, args, result) in enumerate(steps):
        items.append({"type": "function_call", "call_id": f"h{i}", "name": tool, "arguments": json.dumps(args)})
        items.append({"type": "function_call_output", "call_id": f"h{i}", "output": result})
    tools = [{"type": "function", "name": t, "parameters": {"type": "object"}, "strict": False} for t in TOOLS]
    args = dict(model="gpt-4o-mini", input=items, tools=tools, extra_headers=headers(s))
    if stream:
        with client.responses.stream(**args) as events:
            for _ in events:
                pass
            response = events.get_final_response()
    else:
        response = client.responses.create(**args)
    calls = [o.name for o in response.output if o.type == "function_call"]
    return calls, response.output_text


def anthropic_messages(client, s, stream):
    user, steps = conversation(s)
    messages = [{"role": "user", "content": user}]
    for i, (tool, args, result) in enumerate(steps):
        messages.append({"role": "assistant", "content": [{"type": "tool_use", "id": f"h{i}", "name": tool, "input": args}]})
        messages.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"h{i}", "content": result}]})
    tools = [{"name": t, "input_schema": {"type": "object"}} for t in TOOLS]
    args = dict(model="claude-sonnet-4-5", max_tokens=256, messages=messages, tools=tools, extra_headers=headers(s))
    if stream:
        with client.messages.stream(**args) as events:
            message = events.get_final_message()
    else:
        message = client.messages.create(**args)
    calls = [b.name for b in message.content if b.type == "tool_use"]
    text = "".join(b.text for b in message.content if b.type == "text")
    if not calls:
        assert message.stop_reason != "tool_use"
    return calls, text


def gemini_generate(client, s, stream):
    user, steps = conversation(s)
    contents = [genai_types.Content(role="user", parts=[genai_types.Part(text=user)])]
    for tool, args, result in steps:
        contents.append(
            genai_types.Content(role="model", parts=[genai_types.Part.from_function_call(name=tool, args=args)])
        )
        contents.append(
            genai_types.Content(
                role="user", parts=[genai_types.Part.from_function_response(name=tool, response={"result": result})]
            )
        )
    declarations = [genai_types.FunctionDeclaration(name=t, parameters={"type": "OBJECT"}) for t in TOOLS]
    config = genai_types.GenerateContentConfig(
        tools=[genai_types.Tool(function_declarations=declarations)],
        automatic_function_calling=genai_types.AutomaticFunctionCallingConfig(disable=True),
        http_options=genai_types.HttpOptions(headers=headers(s)),
    )
    args = dict(model="gemini-2.0-flash", contents=contents, config=config)
    chunks = list(client.models.generate_content_stream(**args)) if stream else [client.models.generate_content(**args)]
    calls, text = [], ""
    for chunk in chunks:
        for part in chunk.candidates[0].content.parts or []:
            if part.function_call:
                calls.append(part.function_call.name)
            if part.text:
                text += part.text
    return calls, text


def bedrock_converse(client, s, stream):
    user, steps = conversation(s)
    messages = [{"role": "user", "content": [{"text": user}]}]
    for i, (tool, args, result) in enumerate(steps):
        messages.append({"role": "assistant", "content": [{"toolUse": {"toolUseId": f"h{i}", "name": tool, "input": args}}]})
        messages.append({"role": "user", "content": [{"toolResult": {"toolUseId": f"h{i}", "content": [{"text": result}]}}]})
    tools = {"tools": [{"toolSpec": {"name": t, "inputSchema": {"json": {"type": "object"}}}} for t in TOOLS]}

    def add(request, **_):
        for k, v in headers(s).items():
            request.headers[k] = v

    client.meta.events.unregister("before-sign.bedrock-runtime.*", unique_id="policy-headers")
    client.meta.events.register_first("before-sign.bedrock-runtime.*", add, unique_id="policy-headers")
    args = dict(modelId="anthropic.claude-3-haiku-20240307-v1:0", messages=messages, toolConfig=tools)
    if not stream:
        res = client.converse(**args)
        content = res["output"]["message"]["content"]
        return [b["toolUse"]["name"] for b in content if "toolUse" in b], "".join(b.get("text", "") for b in content)
    calls, text, stop = [], "", None
    for event in client.converse_stream(**args)["stream"]:
        if "contentBlockStart" in event and "toolUse" in event["contentBlockStart"]["start"]:
            calls.append(event["contentBlockStart"]["start"]["toolUse"]["name"])
        if "contentBlockDelta" in event and "text" in event["contentBlockDelta"]["delta"]:
            text += event["contentBlockDelta"]["delta"]["text"]
        if "messageStop" in event:
            stop = event["messageStop"]["stopReason"]
    assert calls or stop != "tool_use"
    return calls, text


def cohere_chat(client, s, stream):
    user, steps = conversation(s)
    messages = [{"role": "user", "content": user}]
    for i, (tool, args, result) in enumerate(steps):
        call = {"id": f"h{i}", "type": "function", "function": {"name": tool, "arguments": json.dumps(args)}}
        messages.append({"role": "assistant", "tool_plan": "calling", "tool_calls": [call]})
        messages.append(
            {"role": "tool", "tool_call_id": f"h{i}", "content": [{"type": "document", "document": {"data": json.loads(result)}}]}
        )
    tools = [{"type": "function", "function": {"name": t, "parameters": {"type": "object"}}} for t in TOOLS]
    options = {"additional_headers": headers(s), "max_retries": 0}
    args = dict(model="command-r-plus", messages=messages, tools=tools, request_options=options)
    if not stream:
        res = client.chat(**args)
        calls = [c.function.name for c in res.message.tool_calls or []]
        return calls, "".join(c.text for c in res.message.content or [] if c.type == "text")
    calls, text = [], ""
    for event in client.chat_stream(**args):
        if event.type == "tool-call-start":
            calls.append(event.delta.message.tool_calls.function.name)
        if event.type == "content-delta":
            text += event.delta.message.content.text
    return calls, text


FORMATS = {
    "openai-chat": ("openai", openai_chat),
    "openai-responses": ("openai", openai_responses),
    "anthropic": ("anthropic", anthropic_messages),
    "gemini": ("gemini", gemini_generate),
    "bedrock": ("bedrock", bedrock_converse),
    "cohere": ("cohere", cohere_chat),
}


def client_for(stack, provider, profile, key):
    base = f"{stack.proxy_url}/v1/{provider}/{profile}"
    if provider == "openai":
        return openai.OpenAI(base_url=base, api_key=key, max_retries=0)
    if provider == "anthropic":
        return anthropic.Anthropic(base_url=base, api_key=key, max_retries=0)
    if provider == "gemini":
        return genai.Client(api_key=key, http_options=genai_types.HttpOptions(base_url=base, api_version="v1beta"))
    if provider == "bedrock":
        return boto3.client(
            "bedrock-runtime",
            region_name="us-east-1",
            endpoint_url=base,
            aws_access_key_id=key,
            aws_secret_access_key="unused",
            config=botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"}),
        )
    return cohere.ClientV2(api_key=key, base_url=base)


def outcome(s, calls, text):
    """Whether the client saw exactly the expected calls, and refusals for the rest."""
    wanted = [c["tool"] for c in s["calls"] if c["tool"] not in s["expect_blocked"]]
    problems = []
    if sorted(calls) != sorted(wanted):
        problems.append(f"calls {calls}, expected {wanted}")
    for tool in s["expect_blocked"]:
        if REFUSAL.format(tool) not in text:
            problems.append(f"no refusal for {tool} in {text!r}")
    return problems


def test_the_scenario_corpus_in_every_format(stack, world, capsys):
    assert len(CORPUS["attacks"]) >= 30 and len(CORPUS["benign"]) >= 30
    before = samples(scrape(stack.metrics_urls[stack.proxy_port]).text)
    failures, counts = [], {"attacks": [0, 0], "benign": [0, 0]}
    for fmt, (provider, run) in FORMATS.items():
        client = client_for(stack, provider, world["profile"], world["vk"])
        for stream in (False, True):
            for kind in ("attacks", "benign"):
                for s in CORPUS[kind]:
                    calls, text = run(client, s, stream)
                    problems = outcome(s, calls, text)
                    counts[kind][0] += not problems
                    counts[kind][1] += 1
                    if problems:
                        failures.append(f"{fmt} stream={stream} {kind}: {s['name']}: {'; '.join(problems)}")
    blocked_rate = counts["attacks"][0] / counts["attacks"][1]
    false_blocks = 1 - counts["benign"][0] / counts["benign"][1]
    with capsys.disabled():
        print(
            f"\npolicy scenarios: {counts['attacks'][1]} attack runs, blocked-attack rate {blocked_rate:.1%}; "
            f"{counts['benign'][1]} benign runs, false-block rate {false_blocks:.1%}"
        )
    assert not failures, "\n".join(failures[:20])
    after = samples(scrape(stack.metrics_urls[stack.proxy_port]).text)
    blocked = sum(len(s["expect_blocked"]) for s in CORPUS["attacks"]) * len(FORMATS) * 2

    def total(snapshot):
        return value(snapshot, "gatehouse_tool_call_decisions_total", decision="blocked")

    assert total(after) - total(before) == blocked


def test_a_withheld_result_never_reaches_the_provider(stack, world):
    client = client_for(stack, "openai", world["profile"], world["vk"])
    s = next(s for s in CORPUS["benign"] if s["name"] == "listing files after a withheld secret")
    calls, _ = openai_chat(client, s, stream=False)
    assert calls == ["list_files"]
    sent = [r for r in stack.mock_requests() if "AKIA" in json.dumps(r) or "withheld by policy" in json.dumps(r)]
    assert sent, "the request reached the mock"
    assert not any("AKIAABCDEFGHIJKLMNOP" in json.dumps(r) for r in sent)

"""Every provider's native routes through the data plane, driven by the official SDKs: the
content received, streams delivered incrementally, the usage the gateway extracted (from
its metrics), the credential swapped into the provider's own header, and the exception
each SDK raises for upstream 401 / 429 / 500 and for a stream cut midway.

The upstream is the mock provider, which validates every body against the provider's
published schema, so a request the gateway mangled would fail here too."""

import functools
import time
import uuid
from dataclasses import dataclass
from typing import Callable

import anthropic
import boto3
import botocore.config
import botocore.exceptions
import cohere
import httpx
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types
from mistralai import Mistral
from mistralai.utils import RetryConfig

from conftest import PROVIDERS, samples, scrape, value

CHUNKS = 6
WORDS = "Hello from the Gatehouse mock provider,".split()
EXPECTED = " ".join(WORDS[:CHUNKS])
PROMPT = "say hello to the gateway"  # 5 words: the mock's input token count
DELAY_MS = 60


@pytest.fixture(scope="module")
def world(stack):
    """A profile, one provider key per provider (each with its own secret) and a virtual
    key that maps every provider to its key."""
    profile = stack.create("/profiles", {"name": "providers-" + uuid.uuid4().hex[:8]})
    secrets, keys = {}, {}
    for provider in PROVIDERS:
        secrets[provider] = f"upstream-{provider}-{uuid.uuid4().hex[:12]}"
        keys[provider] = stack.create(
            "/provider-keys",
            {"name": f"{provider}-{uuid.uuid4().hex[:8]}", "provider": provider, "secret": secrets[provider]},
        )["id"]
    vk = stack.create("/virtual-keys", {"name": "providers", "profile_id": profile["id"], "provider_keys": keys})
    return {"profile": profile["id"], "vk": vk["token"], "secrets": secrets}


def knobs(**extra) -> dict[str, str]:
    return {"x-mock-chunks": str(CHUNKS), **{k.replace("_", "-"): str(v) for k, v in extra.items()}}


# One adapter per SDK: build a client, complete, stream (yielding text deltas), and the
# exceptions it raises. ----------------------------------------------------------------------


@dataclass
class Sdk:
    name: str
    make: Callable  # (stack, provider, profile, key) -> client
    complete: Callable  # (client, model, headers) -> text
    stream: Callable  # (client, model, headers) -> iterator of text deltas
    errors: dict  # status -> exception class (or (class, check))
    credential_header: str  # where the provider's secret must arrive
    bearer: bool = False
    # What a stream cut midway raises: the SDK's error for the in-band error event the
    # gateway writes (OpenAI, Anthropic, Gemini, Bedrock), or the transport's error for
    # the cut connection (Cohere has no in-band error event).
    cut: type = Exception


def openai_make(stack, provider, profile, key):
    return openai.OpenAI(base_url=f"{stack.proxy_url}/v1/{provider}/{profile}", api_key=key, max_retries=0)


def azure_make(stack, provider, profile, key):
    return openai.AzureOpenAI(
        azure_endpoint=f"{stack.proxy_url}/v1/azure/{profile}",
        api_key=key,
        api_version="2024-10-21",
        max_retries=0,
    )


def openai_complete(client, model, headers):
    res = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": PROMPT}], extra_headers=headers
    )
    return res.choices[0].message.content


def openai_stream(client, model, headers, usage_unasked=False):
    """`usage_unasked`: the provider reports usage in its last chunk anyway (Mistral's
    way); otherwise the gateway asked for it and must hide it from this client."""
    stream = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": PROMPT}], stream=True, extra_headers=headers
    )
    for chunk in stream:
        if not usage_unasked:
            assert chunk.usage is None, "the client did not ask for usage and must not see it"
        if chunk.choices and chunk.choices[0].delta.content:
            yield chunk.choices[0].delta.content


OPENAI_ERRORS = {401: openai.AuthenticationError, 429: openai.RateLimitError, 500: openai.InternalServerError}


def anthropic_make(stack, provider, profile, key):
    return anthropic.Anthropic(base_url=f"{stack.proxy_url}/v1/anthropic/{profile}", api_key=key, max_retries=0)


def anthropic_complete(client, model, headers):
    res = client.messages.create(
        model=model, max_tokens=64, messages=[{"role": "user", "content": PROMPT}], extra_headers=headers
    )
    return res.content[0].text


def anthropic_stream(client, model, headers):
    with client.messages.stream(
        model=model, max_tokens=64, messages=[{"role": "user", "content": PROMPT}], extra_headers=headers
    ) as stream:
        yield from stream.text_stream


def gemini_make(stack, provider, profile, key):
    options = genai_types.HttpOptions(base_url=f"{stack.proxy_url}/v1/gemini/{profile}", api_version="v1beta")
    return genai.Client(api_key=key, http_options=options)


def gemini_config(headers):
    return genai_types.GenerateContentConfig(http_options=genai_types.HttpOptions(headers=headers))


def gemini_complete(client, model, headers):
    return client.models.generate_content(model=model, contents=PROMPT, config=gemini_config(headers)).text


def gemini_stream(client, model, headers):
    for chunk in client.models.generate_content_stream(model=model, contents=PROMPT, config=gemini_config(headers)):
        if chunk.text:
            yield chunk.text


def bedrock_make(stack, provider, profile, key):
    # The virtual key as the access key id: boto3 signs with SigV4 and the gateway reads
    # the key from the signature's credential (botocore sends Bedrock API keys as bearer
    # tokens only over HTTPS).
    return boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=f"{stack.proxy_url}/v1/bedrock/{profile}",
        aws_access_key_id=key,
        aws_secret_access_key="not-used-by-the-gateway",
        config=botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def bedrock_with_headers(client, headers):
    def add(request, **_):
        for k, v in headers.items():
            request.headers[k] = v

    client.meta.events.unregister("before-sign.bedrock-runtime.*", unique_id="mock-knobs")
    client.meta.events.register_first("before-sign.bedrock-runtime.*", add, unique_id="mock-knobs")


def bedrock_complete(client, model, headers):
    bedrock_with_headers(client, headers)
    res = client.converse(modelId=model, messages=[{"role": "user", "content": [{"text": PROMPT}]}])
    return res["output"]["message"]["content"][0]["text"]


def bedrock_stream(client, model, headers):
    bedrock_with_headers(client, headers)
    res = client.converse_stream(modelId=model, messages=[{"role": "user", "content": [{"text": PROMPT}]}])
    for event in res["stream"]:
        if "contentBlockDelta" in event:
            yield event["contentBlockDelta"]["delta"]["text"]


def bedrock_error(code):
    def check(exc):
        return isinstance(exc, botocore.exceptions.ClientError) and exc.response["Error"]["Code"] == code

    return check


def cohere_make(stack, provider, profile, key):
    return cohere.ClientV2(api_key=key, base_url=f"{stack.proxy_url}/v1/cohere/{profile}")


def cohere_options(headers):
    return {"additional_headers": headers, "max_retries": 0}


def cohere_complete(client, model, headers):
    res = client.chat(
        model=model, messages=[{"role": "user", "content": PROMPT}], request_options=cohere_options(headers)
    )
    return res.message.content[0].text


def cohere_stream(client, model, headers):
    for event in client.chat_stream(
        model=model, messages=[{"role": "user", "content": PROMPT}], request_options=cohere_options(headers)
    ):
        if event.type == "content-delta":
            yield event.delta.message.content.text


def mistral_make(stack, provider, profile, key):
    return Mistral(api_key=key, server_url=f"{stack.proxy_url}/v1/mistral/{profile}")


NO_RETRIES = RetryConfig("none", None, False)


def mistral_complete(client, model, headers):
    res = client.chat.complete(
        model=model, messages=[{"role": "user", "content": PROMPT}], http_headers=headers, retries=NO_RETRIES
    )
    return res.choices[0].message.content


def mistral_stream(client, model, headers):
    for event in client.chat.stream(
        model=model, messages=[{"role": "user", "content": PROMPT}], http_headers=headers, retries=NO_RETRIES
    ):
        if event.data.choices and event.data.choices[0].delta.content:
            yield event.data.choices[0].delta.content


def status_error(module, status):
    def check(exc):
        return isinstance(exc, module) and getattr(exc, "status_code", None) == status

    return check


def genai_error(cls, status):
    return lambda exc: isinstance(exc, cls) and exc.code == status


OPENAI = dict(make=openai_make, complete=openai_complete, stream=openai_stream, errors=OPENAI_ERRORS,
              credential_header="authorization", bearer=True, cut=openai.APIError)
USAGE_UNASKED = ("mistral", "perplexity", "zhipuai", "minimax")
SDKS = {
    **{p: Sdk(name=f"openai ({p})", **OPENAI) for p in PROVIDERS if p not in
       ("anthropic", "gemini", "azure", "bedrock", "cohere")},
    **{p: Sdk(name=f"openai ({p})", **{**OPENAI, "stream": functools.partial(openai_stream, usage_unasked=True)})
       for p in USAGE_UNASKED},
    "azure": Sdk(name="openai AzureOpenAI", make=azure_make, complete=openai_complete, stream=openai_stream,
                 errors=OPENAI_ERRORS, credential_header="api-key", cut=openai.APIError),
    "anthropic": Sdk(
        name="anthropic", make=anthropic_make, complete=anthropic_complete, stream=anthropic_stream,
        errors={401: anthropic.AuthenticationError, 429: anthropic.RateLimitError, 500: anthropic.InternalServerError},
        credential_header="x-api-key", cut=anthropic.APIStatusError,
    ),
    "gemini": Sdk(
        name="google-genai", make=gemini_make, complete=gemini_complete, stream=gemini_stream,
        errors={401: genai_error(genai_errors.ClientError, 401), 429: genai_error(genai_errors.ClientError, 429),
                500: genai_error(genai_errors.ServerError, 500)},
        credential_header="x-goog-api-key", cut=genai_errors.APIError,
    ),
    "bedrock": Sdk(
        name="boto3 bedrock-runtime", make=bedrock_make, complete=bedrock_complete, stream=bedrock_stream,
        errors={401: bedrock_error("AccessDeniedException"), 429: bedrock_error("ThrottlingException"),
                500: bedrock_error("InternalServerException")},
        credential_header="authorization", bearer=True, cut=botocore.exceptions.EventStreamError,
    ),
    "cohere": Sdk(
        name="cohere ClientV2", make=cohere_make, complete=cohere_complete, stream=cohere_stream,
        errors={401: cohere.UnauthorizedError, 429: cohere.TooManyRequestsError, 500: cohere.InternalServerError},
        credential_header="authorization", bearer=True, cut=httpx.RemoteProtocolError,
    ),
}
# Mistral is proven with its own SDK as well as with openai's.
MISTRAL = Sdk(name="mistralai", make=mistral_make, complete=mistral_complete, stream=mistral_stream,
              errors={s: status_error(Exception, s) for s in (401, 429, 500)},
              credential_header="authorization", bearer=True)
CASES = [(p, SDKS[p]) for p in PROVIDERS] + [("mistral", MISTRAL)]
IDS = [f"{p}-{sdk.name.split()[0]}" for p, sdk in CASES]


def model_for(provider):
    return {"bedrock": "anthropic.claude-3-haiku-20240307-v1:0", "gemini": "gemini-2.5-flash"}.get(
        provider, f"{provider}-model"
    )


def tokens(stack, provider):
    snap = samples(scrape(stack.metrics_urls[stack.proxy_port]).text)
    return {kind: value(snap, "gatehouse_tokens_total", provider=provider, type=kind) for kind in ("input", "output")}


def tokens_after(stack, provider, before, output):
    """The token counters once `output` more output tokens are counted (the gateway
    records usage in its logging phase, just after the response ends)."""
    deadline = time.monotonic() + 3
    while True:
        now = tokens(stack, provider)
        if now["output"] - before["output"] >= output or time.monotonic() > deadline:
            return now
        time.sleep(0.02)


def last_request(stack, provider_path_part):
    return next(r for r in reversed(stack.mock_requests()) if provider_path_part in r["path"])


MOCK_PATHS = {"anthropic": "/v1/messages", "gemini": "/v1beta/models/", "bedrock": "/model/",
              "cohere": "/v2/chat", "azure": "/openai/"}


def check_credential(stack, world, provider, sdk):
    seen = last_request(stack, MOCK_PATHS.get(provider, "/v1/chat/completions"))
    secret = world["secrets"][provider]
    got = seen["headers"].get(sdk.credential_header)
    assert got == (f"Bearer {secret}" if sdk.bearer else secret), (provider, seen["headers"])
    assert not any(world["vk"] in v for v in seen["headers"].values()), "the virtual key never goes upstream"
    return seen


@pytest.mark.parametrize(("provider", "sdk"), CASES, ids=IDS)
def test_complete_and_stream(stack, world, provider, sdk):
    client = sdk.make(stack, provider, world["profile"], world["vk"])
    model = model_for(provider)

    before = tokens(stack, provider)
    assert sdk.complete(client, model, knobs()) == EXPECTED
    check_credential(stack, world, provider, sdk)
    after = tokens_after(stack, provider, before, CHUNKS)
    assert after["output"] - before["output"] == CHUNKS, (provider, before, after)
    assert after["input"] - before["input"] >= 5, (provider, before, after)

    arrivals, texts = [], []
    for delta in sdk.stream(client, model, knobs(x_mock_chunk_delay_ms=DELAY_MS)):
        arrivals.append(time.monotonic())
        texts.append(delta)
    assert "".join(texts) == EXPECTED
    assert len(texts) >= CHUNKS - 1, texts
    # Incremental: the first text arrived long before the last (chunks are DELAY_MS apart).
    assert arrivals[-1] - arrivals[0] >= (CHUNKS - 2) * DELAY_MS / 1000, arrivals
    streamed = tokens_after(stack, provider, after, CHUNKS)
    assert streamed["output"] - after["output"] == CHUNKS, (provider, after, streamed)
    seen = check_credential(stack, world, provider, sdk)
    assert seen["chunks_sent"] >= CHUNKS


@pytest.mark.parametrize(("provider", "sdk"), CASES, ids=IDS)
@pytest.mark.parametrize("status", [401, 429, 500])
def test_upstream_errors_raise_the_sdks_exception(stack, world, provider, sdk, status):
    client = sdk.make(stack, provider, world["profile"], world["vk"])
    expected = sdk.errors[status]
    with pytest.raises(Exception) as err:
        sdk.complete(client, f"mock-error-{status}", {})
    if isinstance(expected, type):
        assert isinstance(err.value, expected), repr(err.value)
    else:
        assert expected(err.value), repr(err.value)


@pytest.mark.parametrize(("provider", "sdk"), CASES, ids=IDS)
def test_a_stream_cut_midway_is_an_error_not_a_short_reply(stack, world, provider, sdk):
    client = sdk.make(stack, provider, world["profile"], world["vk"])
    texts = []
    with pytest.raises(Exception) as err:
        for delta in sdk.stream(client, model_for(provider), knobs(x_mock_fail_after=5, x_mock_chunk_delay_ms=30)):
            texts.append(delta)
    assert not isinstance(err.value, AssertionError), err.value
    assert isinstance(err.value, sdk.cut), repr(err.value)
    assert texts, "the stream broke midway: some text had arrived"
    assert "".join(texts) != EXPECTED
    # The gateway keeps serving the same client afterwards.
    assert sdk.complete(client, model_for(provider), knobs()) == EXPECTED


def test_passthrough_credentials_reach_the_upstream_unchanged(stack, world):
    """Without a virtual key the client's own key goes upstream in its own header."""
    client = anthropic_make(stack, "anthropic", world["profile"], "sk-ant-client-own")
    assert anthropic_complete(client, "claude-x", knobs()) == EXPECTED
    assert last_request(stack, "/v1/messages")["headers"]["x-api-key"] == "sk-ant-client-own"
    client = gemini_make(stack, "gemini", world["profile"], "client-google-key")
    assert gemini_complete(client, "gemini-2.5-flash", knobs()) == EXPECTED
    assert last_request(stack, "/v1beta/models/")["headers"]["x-goog-api-key"] == "client-google-key"


def test_openai_responses_embeddings_and_models(stack, world):
    client = openai_make(stack, "openai", world["profile"], world["vk"])
    res = client.responses.create(model="gpt-4.1", input=PROMPT, extra_headers=knobs())
    assert res.output_text == EXPECTED
    assert res.usage.output_tokens == CHUNKS
    text = "".join(
        e.delta for e in client.responses.create(model="gpt-4.1", input=PROMPT, stream=True, extra_headers=knobs())
        if e.type == "response.output_text.delta"
    )
    assert text == EXPECTED
    emb = client.embeddings.create(model="text-embedding-3-small", input=["a b", "c"])
    assert len(emb.data) == 2 and len(emb.data[0].embedding) == 8
    assert [m.id for m in client.models.list()] == ["gpt-4o-mini", "gpt-4.1", "text-embedding-3-small"]
    assert last_request(stack, "/v1/embeddings")["headers"]["authorization"] == f"Bearer {world['secrets']['openai']}"


def test_anthropic_count_tokens(stack, world):
    client = anthropic_make(stack, "anthropic", world["profile"], world["vk"])
    res = client.messages.count_tokens(model="claude-x", messages=[{"role": "user", "content": PROMPT}])
    assert res.input_tokens == 5


def test_gemini_json_array_stream_passes_through(stack, world):
    """Without `alt=sse` Gemini streams one JSON array; the gateway passes it unchanged
    and still reads its usage."""
    before = tokens(stack, "gemini")
    res = httpx.post(
        f"{stack.proxy_url}/v1/gemini/{world['profile']}/v1beta/models/gemini-2.5-flash:streamGenerateContent",
        headers={"x-goog-api-key": world["vk"], **knobs()},
        json={"contents": [{"role": "user", "parts": [{"text": PROMPT}]}]},
        timeout=10,
    )
    assert res.status_code == 200, res.text
    chunks = res.json()
    assert "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks) == EXPECTED
    assert tokens_after(stack, "gemini", before, CHUNKS)["output"] - before["output"] == CHUNKS


def test_azure_v1_route_and_default_api_version(stack, world):
    """Azure's v1 API (model in the body) and a deployment URL without `api-version`,
    which gets the configured default."""
    base = f"{stack.proxy_url}/v1/azure/{world['profile']}"
    body = {"model": "my-deployment", "messages": [{"role": "user", "content": PROMPT}]}
    res = httpx.post(f"{base}/chat/completions", headers={"api-key": world["vk"]}, json=body, timeout=10)
    assert res.status_code == 200, res.text
    assert last_request(stack, "/openai/")["path"] == "/openai/v1/chat/completions"
    res = httpx.post(f"{base}/deployments/d1/chat/completions", headers={"api-key": world["vk"]}, json=body,
                     timeout=10)
    assert res.status_code == 200, res.text
    seen = last_request(stack, "/openai/")
    assert seen["path"] == "/openai/deployments/d1/chat/completions"
    assert seen["query"] == "api-version=2024-10-21"


def test_openrouter_attribution_headers(stack, world):
    client = openai_make(stack, "openrouter", world["profile"], world["vk"])
    openai_complete(client, "openrouter-model", knobs())
    assert last_request(stack, "/v1/chat/completions")["headers"]["x-title"] == "Gatehouse"
    openai_complete(client, "openrouter-model", {**knobs(), "X-Title": "my app", "HTTP-Referer": "https://app"})
    seen = last_request(stack, "/v1/chat/completions")["headers"]
    assert (seen["x-title"], seen["http-referer"]) == ("my app", "https://app")


def test_errors_from_the_gateway_speak_each_providers_format(stack, world):
    """A refusal by the gateway itself (unknown profile) in each provider's error format."""
    nobody = str(uuid.uuid4())
    with pytest.raises(anthropic.NotFoundError) as err:
        anthropic_complete(anthropic_make(stack, "anthropic", nobody, "k"), "claude-x", {})
    assert err.value.body["error"]["type"] == "not_found_error"
    with pytest.raises(genai_errors.ClientError) as gerr:
        gemini_complete(gemini_make(stack, "gemini", nobody, "k"), "gemini-2.5-flash", {})
    assert gerr.value.code == 404 and gerr.value.status == "NOT_FOUND"
    with pytest.raises(botocore.exceptions.ClientError) as berr:
        bedrock_complete(bedrock_make(stack, "bedrock", nobody, "k"), "m", {})
    assert berr.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(cohere.NotFoundError):
        cohere_complete(cohere_make(stack, "cohere", nobody, "k"), "command-a", {})


def test_answers_keep_the_client_connection_open(stack):
    """Every answer is framed (a length or chunked), including ones the gateway rewrites
    as they pass (a body the tool-call guard holds, a stream whose hidden usage chunk it
    drops), so a keep-alive client sends all its requests over one connection."""
    import http.client
    import json
    from urllib.parse import urlsplit

    profile = stack.create("/profiles", {"name": "keepalive-" + uuid.uuid4().hex[:8]})
    stack.create(
        "/tool-invocation-policies",
        {"profile_id": profile["id"], "tool_name": "delete_repo", "action": "block_always", "conditions": []},
    )
    base = urlsplit(stack.openai_base(profile["id"]))
    tools = [{"type": "function", "function": {"name": "delete_repo", "parameters": {"type": "object"}}}]
    bodies = [
        {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "<<call:delete_repo {}>>"}], "tools": tools},
        {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "stream": True},
        {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
    ]
    conn = http.client.HTTPConnection(base.hostname, base.port, timeout=10)
    conn.connect()
    first = conn.sock
    try:
        for body in bodies:
            conn.request(
                "POST", f"{base.path}/chat/completions", json.dumps(body),
                {"content-type": "application/json", "authorization": "Bearer sk-keepalive"},
            )
            res = conn.getresponse()
            payload = res.read()
            assert res.status == 200, payload
            framed = res.getheader("content-length") or res.getheader("transfer-encoding") == "chunked"
            assert framed and not res.will_close, (body, res.getheaders())
            assert conn.sock is first, "the gateway closed the connection after an answer"
    finally:
        conn.close()

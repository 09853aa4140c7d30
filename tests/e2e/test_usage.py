"""Usage, cost, budgets and the interaction log, end to end: records for every provider
format carry the usage the provider reported (also for a stream the client left early);
limits hold across four workers under concurrent load, and what they counted equals the sum
of the stored records; records survive a control-plane outage and a worker's SIGTERM, never
duplicated."""

import json
import signal
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import anthropic
import boto3
import botocore.config
import cohere
import openai
import pytest
import requests
from google import genai
from google.genai import types as genai_types

from conftest import ADMIN_KEY, Stack, running

PROVIDERS = ["openai", "anthropic", "gemini", "bedrock", "cohere"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A stack of its own: the outage test stops its control plane."""
    with running(Stack(tmp_path_factory.mktemp("usage"))) as s:
        yield s


def profile_with_key(stack, name, **profile):
    pid = stack.create("/profiles", {"name": f"{name}-{uuid.uuid4().hex[:8]}", **profile})["id"]
    keys = {
        p: stack.create("/provider-keys", {"name": f"{name}-{p}-{uuid.uuid4().hex[:6]}", "provider": p, "secret": "up-" + p})[
            "id"
        ]
        for p in PROVIDERS
    }
    vk = stack.create("/virtual-keys", {"name": name, "profile_id": pid, "provider_keys": keys})["token"]
    return pid, vk


def wait_records(stack, want, timeout=20.0, **filters):
    deadline = time.monotonic() + timeout
    while True:
        got = stack.interactions(**filters)
        if len(got) >= want or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


# One call per format through the official SDK: the usage the SDK reports. ---------------


def run_format(stack, profile, key, fmt, stream, rid):
    base = f"{stack.proxy_url}/v1"
    hdrs = {"x-request-id": rid}
    if fmt == "openai-chat":
        client = openai.OpenAI(base_url=f"{base}/openai/{profile}", api_key=key, max_retries=0)
        args = dict(model="gpt-4o-mini", messages=[{"role": "user", "content": "count my tokens"}], extra_headers=hdrs)
        if stream:
            chunks = list(client.chat.completions.create(stream=True, stream_options={"include_usage": True}, **args))
            u = chunks[-1].usage
        else:
            u = client.chat.completions.create(**args).usage
        return u.prompt_tokens, u.completion_tokens
    if fmt == "openai-responses":
        client = openai.OpenAI(base_url=f"{base}/openai/{profile}", api_key=key, max_retries=0)
        args = dict(model="gpt-4o-mini", input="count my tokens", extra_headers=hdrs)
        if stream:
            with client.responses.stream(**args) as s:
                u = s.get_final_response().usage
        else:
            u = client.responses.create(**args).usage
        return u.input_tokens, u.output_tokens
    if fmt == "anthropic":
        client = anthropic.Anthropic(base_url=f"{base}/anthropic/{profile}", api_key=key, max_retries=0)
        args = dict(
            model="claude-haiku-4-5",
            max_tokens=256,
            messages=[{"role": "user", "content": "count my tokens"}],
            extra_headers=hdrs,
        )
        if stream:
            with client.messages.stream(**args) as s:
                u = s.get_final_message().usage
        else:
            u = client.messages.create(**args).usage
        return u.input_tokens, u.output_tokens
    if fmt == "gemini":
        client = genai.Client(
            api_key=key, http_options=genai_types.HttpOptions(base_url=f"{base}/gemini/{profile}", api_version="v1beta")
        )
        config = genai_types.GenerateContentConfig(http_options=genai_types.HttpOptions(headers=hdrs))
        args = dict(model="gemini-2.0-flash", contents="count my tokens", config=config)
        if stream:
            u = [c for c in client.models.generate_content_stream(**args) if c.usage_metadata][-1].usage_metadata
        else:
            u = client.models.generate_content(**args).usage_metadata
        return u.prompt_token_count, u.candidates_token_count
    if fmt == "bedrock":
        client = boto3.client(
            "bedrock-runtime",
            region_name="us-east-1",
            endpoint_url=f"{base}/bedrock/{profile}",
            aws_access_key_id=key,
            aws_secret_access_key="unused",
            config=botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"}),
        )

        def add(request, **_):
            request.headers["x-request-id"] = rid

        client.meta.events.register_first("before-sign.bedrock-runtime.*", add)
        args = dict(modelId="amazon.nova-lite-v1:0", messages=[{"role": "user", "content": [{"text": "count my tokens"}]}])
        if stream:
            events = list(client.converse_stream(**args)["stream"])
            u = next(e["metadata"]["usage"] for e in events if "metadata" in e)
        else:
            u = client.converse(**args)["usage"]
        return u["inputTokens"], u["outputTokens"]
    client = cohere.ClientV2(api_key=key, base_url=f"{base}/cohere/{profile}")
    options = {"additional_headers": hdrs, "max_retries": 0}
    args = dict(model="command-r-08-2024", messages=[{"role": "user", "content": "count my tokens"}], request_options=options)
    if stream:
        end = [e for e in client.chat_stream(**args) if e.type == "message-end"][-1]
        u = end.delta.usage.tokens
    else:
        u = client.chat(**args).usage.tokens
    return int(u.input_tokens), int(u.output_tokens)


FORMATS = ["openai-chat", "openai-responses", "anthropic", "gemini", "bedrock", "cohere"]


def test_every_format_records_the_usage_the_provider_reported(stack):
    profile, key = profile_with_key(stack, "usage-formats", log_bodies="full")
    expected = {}
    for fmt in FORMATS:
        for stream in (False, True):
            rid = f"{fmt}-{'stream' if stream else 'whole'}-{uuid.uuid4().hex[:8]}"
            expected[rid] = (fmt, stream, run_format(stack, profile, key, fmt, stream, rid))
    records = {r["request_id"]: r for r in wait_records(stack, len(expected), profile_id=profile)}
    assert set(records) == set(expected)
    for rid, (fmt, stream, (input_tokens, output_tokens)) in expected.items():
        r = records[rid]
        assert r["status"] == 200 and r["error"] is None, (fmt, r)
        assert r["stream"] is stream, (fmt, r)
        assert r["credential"] == "virtual" and r["virtual_key_id"], r
        assert (r["tokens"]["input"], r["tokens"]["output"]) == (input_tokens, output_tokens), (fmt, stream, r["tokens"])
        assert r["cost_usd"] is not None and r["cost_usd"] > 0, (fmt, r)
        assert r["time_to_first_token_ms"] is not None and r["duration_ms"] >= r["time_to_first_token_ms"]
        assert r["metadata"]["response_bytes"] > 0
    # One record with its bodies (log_bodies: full), and never a credential in them.
    one = next(r for r in records.values() if r["api"] == "chat_completions")
    detail = requests.get(
        f"{stack.api_url}/api/v1/interactions/{one['id']}", headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=5
    ).json()
    assert "count my tokens" in detail["request_body"]
    assert detail["response_body"]
    assert key not in json.dumps(detail) and "up-openai" not in json.dumps(detail)
    # The usage report sums the same records.
    report = requests.get(
        f"{stack.api_url}/api/v1/usage",
        params={"group_by": "profile", "profile_id": profile},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=5,
    ).json()
    assert report["data"][0]["requests"] == len(expected)
    assert report["data"][0]["input_tokens"] == sum(v[2][0] for v in expected.values())


def test_a_stream_the_client_leaves_records_the_usage_reported_so_far(stack):
    """Anthropic reports input tokens when the message starts, output tokens as it goes."""
    profile, key = profile_with_key(stack, "usage-abort")
    url = f"{stack.proxy_url}/v1/anthropic/{profile}/v1/messages"
    body = {"model": "claude-haiku-4-5", "max_tokens": 256, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    hdrs = {"x-api-key": key, "anthropic-version": "2023-06-01", "x-mock-chunks": "60", "x-mock-chunk-delay-ms": "50"}
    whole = requests.post(url, json={**body, "stream": False}, headers=hdrs, timeout=10).json()["usage"]
    with requests.post(url, json=body, headers={**hdrs, "x-request-id": "aborted"}, stream=True, timeout=10) as res:
        lines = res.iter_lines()
        seen = [next(lines) for _ in range(12)]
        assert any(b"message_start" in line for line in seen)
    records = {r["request_id"]: r for r in wait_records(stack, 2, timeout=30, profile_id=profile)}
    aborted = records["aborted"]
    assert aborted["client_aborted"] is True, aborted
    assert aborted["tokens"]["input"] == whole["input_tokens"], aborted["tokens"]


def run_load(urls, profile, key, total, threads=16):
    """`total` chat completions spread round-robin over the workers; their statuses and
    refusal bodies."""
    statuses, lock = [], threading.Lock()

    def one(i):
        res = requests.post(
            f"{urls[i % len(urls)]}/v1/openai/{profile}/chat/completions",
            json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "spend " * 20}]},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        with lock:
            statuses.append((res.status_code, res.headers, res.text))

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(total)))
    return statuses


def limit_status(stack, limit_id):
    res = stack.api("GET", f"/limits/{limit_id}/status")
    assert res.status_code == 200, res.text
    return res.json()


def test_budgets_hold_across_four_workers_and_count_exactly_the_records(stack):
    urls = [stack.proxy_url] + [stack.add_worker(f"usage-worker-{i}")[0] for i in range(3)]
    # Spending: a dollar budget on one profile, answered 402 once spent.
    profile, key = profile_with_key(stack, "usage-budget")
    limit = stack.create(
        "/limits", {"scope": "profile", "subject_id": profile, "metric": "cost_usd", "window": "day", "max": 0.0005}
    )
    threads = 16
    statuses = run_load(urls, profile, key, 160, threads)
    codes = [s for s, _, _ in statuses]
    assert 200 in codes and 402 in codes, codes
    refused = next(json.loads(t) for s, _, t in statuses if s == 402)
    assert refused["error"]["code"] == "budget_exceeded" and limit["id"] in refused["error"]["message"]
    admitted = next(h for s, h, _ in statuses if s == 200)
    assert float(admitted["x-gatehouse-limit-remaining"]) <= 0.0005
    records = wait_records(stack, len(statuses), profile_id=profile)
    assert len(records) == len(statuses)
    spent = [r["cost_usd"] or 0.0 for r in records if r["status"] == 200]
    # The documented bound: at most the requests in flight when the budget ran out (the
    # client's concurrency) each spend one request's cost past the limit.
    bound = threads * max(spent)
    assert sum(spent) <= limit["max"] + bound, (sum(spent), limit["max"], bound)
    assert sum(spent) >= limit["max"] * 0.5, "the budget was mostly spendable"
    status = limit_status(stack, limit["id"])
    report = stack.api("GET", f"/usage?group_by=profile&profile_id={profile}").json()["data"][0]
    assert status["used"] == report["cost_usd"], (status, report)
    assert abs(status["used"] - sum(spent)) < 1e-12
    charged = [c for r in records for c in r["charges"]]
    assert {c["limit_id"] for c in charged} == {limit["id"]}
    print(f"\ncost budget ${limit['max']}: spent ${sum(spent):.7f} over {len(spent)} requests, bound +${bound:.7f}")

    # A request rate: 40 per hour, exact (a request reserves its unit before it is sent).
    profile, key = profile_with_key(stack, "usage-rate")
    rate = stack.create("/limits", {"scope": "profile", "subject_id": profile, "metric": "requests", "window": "hour", "max": 40})
    statuses = run_load(urls, profile, key, 100, threads)
    codes = [s for s, _, _ in statuses]
    assert codes.count(200) == 40, codes
    throttled = next(h for s, h, _ in statuses if s == 429)
    assert 0 < int(throttled["retry-after"]) <= 3600
    records = wait_records(stack, 100, profile_id=profile)
    assert limit_status(stack, rate["id"])["used"] == 40
    assert sum(1 for r in records if r["error"] == "rate_limit_exceeded") == 60


def test_records_survive_a_control_plane_outage_without_duplicates(stack):
    profile, key = profile_with_key(stack, "usage-outage")
    client = openai.OpenAI(base_url=stack.openai_base(profile), api_key=key, max_retries=0)

    def send(n, tag):
        for i in range(n):
            client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "hi"}],
                extra_headers={"x-request-id": f"{tag}-{i}"},
            )

    send(10, "before")
    stack.stop_control_plane()
    try:
        send(20, "during")  # served from the workers' caches; records wait in the queue
    finally:
        stack.start_control_plane()
    send(10, "after")
    records = wait_records(stack, 40, timeout=40, profile_id=profile)
    ids = [r["request_id"] for r in records]
    assert sorted(ids) == sorted([f"{t}-{i}" for t, n in (("before", 10), ("during", 20), ("after", 10)) for i in range(n)])
    assert len({r["id"] for r in records}) == 40


def test_a_worker_sent_sigterm_flushes_its_queue_and_gives_back_its_budget(stack):
    profile, key = profile_with_key(stack, "usage-sigterm")
    limit = stack.create(
        "/limits", {"scope": "profile", "subject_id": profile, "metric": "cost_usd", "window": "month", "max": 10.0}
    )
    # Records would wait a minute for their batch to fill: only the shutdown flush sends them.
    url, proc = stack.add_worker("usage-sigterm", GATEHOUSE_USAGE_FLUSH_INTERVAL="60s")
    client = openai.OpenAI(base_url=f"{url}/v1/openai/{profile}", api_key=key, max_retries=0)
    for i in range(25):
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    time.sleep(0.5)
    assert stack.interactions(profile_id=profile) == []
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    records = stack.interactions(profile_id=profile)
    assert len(records) == 25
    status = limit_status(stack, limit["id"])
    assert status["reserved"] == pytest.approx(0.0, abs=1e-12), status
    assert status["used"] == pytest.approx(sum(r["cost_usd"] for r in records), abs=1e-12)

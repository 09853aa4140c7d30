"""Both planes' /metrics after real traffic: valid exposition text (`promtool check
metrics`), counters that match the requests sent, and a bearer token that is enforced."""

import shutil
import subprocess
import time
import uuid

import openai
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from conftest import METRICS_SECRET, samples, scrape, value

MESSAGES = [{"role": "user", "content": "hi"}]


def promtool_check(text: str) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool (Debian package prometheus) is installed by `make setup`"
    proc = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_data_plane_metrics_count_what_was_sent(stack):
    url = stack.metrics_urls[stack.proxy_port]
    assert scrape(url, token=None).status_code == 401
    assert scrape(url, token="wrong-" + uuid.uuid4().hex).status_code == 401
    profile = stack.create("/profiles", {"name": "metrics-" + uuid.uuid4().hex[:8]})
    key = stack.create("/provider-keys", {"name": "metrics-" + uuid.uuid4().hex[:8], "provider": "openai", "secret": "sk-m"})
    vk = stack.create("/virtual-keys", {"name": "m", "profile_id": profile["id"], "provider_keys": {"openai": key["id"]}})
    model = "metrics-model-" + uuid.uuid4().hex[:6]
    stack.create("/models", {"provider": "openai", "model": model, "input_price_per_million": 1.0, "output_price_per_million": 2.0})
    before = samples(scrape(url).text)

    client = openai.OpenAI(base_url=stack.openai_base(profile["id"]), api_key=vk["token"], max_retries=0)
    for _ in range(5):
        client.chat.completions.create(model=model, messages=MESSAGES)
    for _ in range(2):
        for _ in client.chat.completions.create(model=model, messages=MESSAGES, stream=True):
            pass
    bad = openai.OpenAI(base_url=stack.openai_base(profile["id"]), api_key="gh_vk_unknown" + uuid.uuid4().hex, max_retries=0)
    for _ in range(3):
        with pytest.raises(openai.AuthenticationError):
            bad.chat.completions.create(model=model, messages=MESSAGES)

    res = scrape(url)
    assert res.status_code == 200 and res.headers["content-type"].startswith("text/plain")
    promtool_check(res.text)
    after = samples(res.text)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    ok = dict(provider="openai", api="chat_completions", model=model, status="200")
    assert delta("gatehouse_requests_total", **ok) == 7
    assert delta("gatehouse_requests_total", provider="openai", status="401") == 3
    assert delta("gatehouse_request_duration_seconds_count", provider="openai", api="chat_completions") == 10
    assert delta("gatehouse_time_to_first_token_seconds_count", provider="openai") == 7
    assert delta("gatehouse_gateway_overhead_seconds_count", provider="openai") == 7
    assert delta("gatehouse_config_cache_lookups_total", kind="virtual_key") == 10
    # The mock reports usage on every non-streamed reply (and on streams only when asked).
    assert delta("gatehouse_tokens_total", provider="openai", model=model, type="input") > 0
    assert delta("gatehouse_tokens_total", provider="openai", model=model, type="output") > 0
    # Cost from the price table: 1 USD per million input tokens, 2 per million output.
    tokens_in = delta("gatehouse_tokens_total", provider="openai", model=model, type="input")
    tokens_out = delta("gatehouse_tokens_total", provider="openai", model=model, type="output")
    cost = delta("gatehouse_cost_usd_total", provider="openai", model=model)
    assert cost == pytest.approx((tokens_in * 1.0 + tokens_out * 2.0) / 1e6)
    # Every request, refused ones included, queued one interaction record, and none dropped.
    assert delta("gatehouse_usage_records_total", outcome="queued") == 10
    assert delta("gatehouse_usage_records_total", outcome="dropped_queue_full") == 0
    assert value(after, "gatehouse_requests_in_flight") == 0
    assert value(after, "gatehouse_open_streams") == 0
    assert value(after, "gatehouse_config_watch_live") == 1
    assert value(after, "gatehouse_config_revision") >= 1


def test_control_plane_metrics_count_api_requests(stack):
    url = f"{stack.api_url}/metrics"
    assert scrape(url, token=None).status_code == 401
    assert scrape(url, token="wrong").status_code == 401
    before = samples(scrape(url).text)
    for _ in range(4):
        stack.create("/teams", {"name": "metrics-team-" + uuid.uuid4().hex[:8]})
    assert stack.api("GET", f"/teams/{uuid.uuid4()}").status_code == 404
    res = scrape(url)
    promtool_check(res.text)
    after = samples(res.text)
    created = dict(method="POST", route="/api/v1/teams", status="201")
    assert value(after, "gatehouse_api_requests_total", **created) - value(before, "gatehouse_api_requests_total", **created) == 4
    missing = dict(method="GET", route="/api/v1/teams/{id}", status="404")
    assert value(after, "gatehouse_api_requests_total", **missing) - value(before, "gatehouse_api_requests_total", **missing) == 1
    assert value(after, "gatehouse_watch_subscribers") >= 1, "the stack's worker watches"
    # A proxied request's interaction record reaches the control plane's ingest.
    profile = stack.create("/profiles", {"name": "ingest-" + uuid.uuid4().hex[:8]})
    openai.OpenAI(base_url=stack.openai_base(profile["id"]), api_key="sk-i", max_retries=0).chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES
    )
    stored = dict(outcome="stored")
    deadline = time.monotonic() + 10
    while value(samples(scrape(url).text), "gatehouse_interactions_ingested_total", **stored) <= value(
        before, "gatehouse_interactions_ingested_total", **stored
    ):
        assert time.monotonic() < deadline, "no interaction records were ingested"
        time.sleep(0.1)
    assert value(after, "gatehouse_db_pool_connections", state="idle") >= 0


def test_the_dashboard_only_uses_metrics_the_planes_export(stack):
    import json
    import re

    from conftest import ROOT

    dashboard = json.loads((ROOT / "helm" / "gatehouse" / "dashboards" / "gatehouse-overview.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    # Labelled series exist once they have a sample: make an upstream error happen, a tool
    # call blocked and a request refused by a limit. Policies and limits are created before
    # the profile's first request, so no worker can hold a copy from before them.
    profile = stack.create("/profiles", {"name": "dashboard-" + uuid.uuid4().hex[:8]})
    stack.create(
        "/tool-invocation-policies",
        {"profile_id": profile["id"], "tool_name": "delete_repo", "action": "block_always", "conditions": []},
    )
    limited = stack.create("/profiles", {"name": "dashboard-limited-" + uuid.uuid4().hex[:8]})
    stack.create("/limits", {"scope": "profile", "subject_id": limited["id"], "metric": "requests", "window": "day", "max": 1})
    client = openai.OpenAI(base_url=stack.openai_base(profile["id"]), api_key="sk-d", max_retries=0)
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="mock-error-500", messages=MESSAGES)
    client.chat.completions.create(model="no-price-" + uuid.uuid4().hex[:6], messages=MESSAGES)
    tools = [{"type": "function", "function": {"name": "delete_repo", "parameters": {"type": "object"}}}]
    blocked = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "<<call:delete_repo {}>>"}], tools=tools
    )
    assert not blocked.choices[0].message.tool_calls, blocked
    limited_client = openai.OpenAI(base_url=stack.openai_base(limited["id"]), api_key="sk-d", max_retries=0)
    limited_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    with pytest.raises(openai.RateLimitError):
        limited_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    used = {re.sub(r"_(bucket|count|sum)$", "", m) for e in exprs for m in re.findall(r"gatehouse_[a-z_]+", e)}
    exported = set()
    for url in (stack.metrics_urls[stack.proxy_port], f"{stack.api_url}/metrics"):
        for family in text_string_to_metric_families(scrape(url).text):
            exported.add(family.name)
            exported.add(family.name + "_total")
    assert used and used <= exported, used - exported

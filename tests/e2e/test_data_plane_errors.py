"""Bad input to the data plane: every case gets a clear error in OpenAI's format (so the
official SDK raises its usual exception), and the gateway keeps serving afterwards."""

import json
import socket
import time
import uuid

import openai
import pytest
import requests

from conftest import BODY_LIMIT, CACHE_TTL_SECS, UPSTREAM_IDLE_TIMEOUT_SECS

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def world(stack):
    """A profile, an OpenAI provider key and a virtual key mapping to it."""
    secret = "sk-errors-" + uuid.uuid4().hex
    profile = stack.create("/profiles", {"name": "errors-" + uuid.uuid4().hex[:8]})
    key = stack.create(
        "/provider-keys", {"name": "errors-" + uuid.uuid4().hex[:8], "provider": "openai", "secret": secret}
    )
    vk = stack.create(
        "/virtual-keys",
        {"name": "errors", "profile_id": profile["id"], "provider_keys": {"openai": key["id"]}},
    )
    return {"profile": profile, "key": key, "vk": vk, "secret": secret}


def sdk(stack, profile_id, api_key):
    return openai.OpenAI(base_url=stack.openai_base(profile_id), api_key=api_key, max_retries=0)


def post_raw(stack, profile_id, body: bytes, token: str, **kwargs) -> requests.Response:
    return requests.post(
        f"{stack.openai_base(profile_id)}/chat/completions",
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=10,
        **kwargs,
    )


def assert_openai_error(res: requests.Response, status: int, code: str) -> dict:
    assert res.status_code == status, res.text
    assert res.headers["content-type"] == "application/json"
    error = res.json()["error"]
    assert error["code"] == code and error["message"] and error["type"], error
    return error


def test_malformed_json_is_400_and_never_reaches_upstream(stack, world):
    before = len(stack.mock_requests())
    res = post_raw(stack, world["profile"]["id"], b'{"model": "gpt-4o", "messages": [', world["vk"]["token"])
    error = assert_openai_error(res, 400, "invalid_json")
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith("request body is not valid JSON"), "answered by the gateway"
    assert len(stack.mock_requests()) == before, "the mock records every request it reads"
    # Valid JSON without a model is refused the same way.
    assert_openai_error(post_raw(stack, world["profile"]["id"], b"[1, 2]", world["vk"]["token"]), 400, "invalid_json")


def test_unknown_profile_is_404(stack, world):
    for profile in (str(uuid.uuid4()), "not-a-uuid"):
        with pytest.raises(openai.NotFoundError) as err:
            sdk(stack, profile, "sk-passthrough").chat.completions.create(model="m", messages=MESSAGES)
        assert err.value.status_code == 404
        assert err.value.body["code"] == "profile_not_found"


def test_unknown_route_and_provider_are_404(stack, world):
    base = stack.proxy_url
    for path in ("/v1/openai/{p}/nope", "/v1/nosuchprovider/{p}/chat/completions", "/nothing"):
        res = requests.post(base + path.format(p=world["profile"]["id"]), data=b"{}", timeout=5)
        assert_openai_error(res, 404, "unknown_url")
    res = requests.get(f"{stack.openai_base(world['profile']['id'])}/chat/completions", timeout=5)
    assert_openai_error(res, 405, "method_not_allowed")


def test_unknown_virtual_key_is_401(stack, world):
    with pytest.raises(openai.AuthenticationError) as err:
        sdk(stack, world["profile"]["id"], "gh_vk_" + "x" * 43).chat.completions.create(model="m", messages=MESSAGES)
    assert err.value.status_code == 401
    assert err.value.body["code"] == "invalid_api_key"


def test_expired_virtual_key_is_401(stack, world):
    vk = stack.create(
        "/virtual-keys",
        {
            "name": "expired",
            "profile_id": world["profile"]["id"],
            "provider_keys": {"openai": world["key"]["id"]},
            "expires_at": "2020-01-01T00:00:00Z",
        },
    )
    with pytest.raises(openai.AuthenticationError) as err:
        sdk(stack, world["profile"]["id"], vk["token"]).chat.completions.create(model="m", messages=MESSAGES)
    assert err.value.body["code"] == "expired_api_key"


def test_revoked_virtual_key_is_401_once_the_cache_ttl_passed(stack, world):
    vk = stack.create(
        "/virtual-keys",
        {"name": "revoked", "profile_id": world["profile"]["id"], "provider_keys": {"openai": world["key"]["id"]}},
    )
    client = sdk(stack, world["profile"]["id"], vk["token"])
    client.chat.completions.create(model="m", messages=MESSAGES)
    assert stack.api("DELETE", f"/virtual-keys/{vk['id']}").status_code == 204
    time.sleep(CACHE_TTL_SECS + 0.5)
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="m", messages=MESSAGES)


def test_virtual_key_of_another_profile_or_provider_is_403(stack, world):
    other = stack.create("/profiles", {"name": "other-" + uuid.uuid4().hex[:8]})
    with pytest.raises(openai.PermissionDeniedError) as err:
        sdk(stack, other["id"], world["vk"]["token"]).chat.completions.create(model="m", messages=MESSAGES)
    assert err.value.body["code"] == "profile_mismatch"
    bare = stack.create("/virtual-keys", {"name": "no-openai", "profile_id": world["profile"]["id"]})
    with pytest.raises(openai.PermissionDeniedError) as err:
        sdk(stack, world["profile"]["id"], bare["token"]).chat.completions.create(model="m", messages=MESSAGES)
    assert err.value.body["code"] == "provider_not_allowed"


def test_body_over_the_limit_is_413_declared_or_chunked(stack, world):
    big = json.dumps({"model": "m", "messages": [{"role": "user", "content": "x" * (BODY_LIMIT + 10)}]}).encode()
    res = post_raw(stack, world["profile"]["id"], big, world["vk"]["token"])
    assert_openai_error(res, 413, "request_too_large")

    def chunks():
        for i in range(0, len(big), 16 * 1024):
            yield big[i : i + 16 * 1024]

    res = post_raw(stack, world["profile"]["id"], chunks(), world["vk"]["token"])
    assert_openai_error(res, 413, "request_too_large")
    # A body just under the limit goes through, whole, declared or chunked.
    ok = json.dumps({"model": "m", "messages": [{"role": "user", "content": "y" * (BODY_LIMIT - 200)}]}).encode()
    for body in (ok, (ok[i : i + 16 * 1024] for i in range(0, len(ok), 16 * 1024))):
        res = post_raw(stack, world["profile"]["id"], body, world["vk"]["token"])
        assert res.status_code == 200, res.text
        seen = next(r for r in stack.mock_requests() if r["id"] == res.json()["id"])
        assert seen["body_bytes"] == len(ok)


def test_unreachable_upstream_is_502(stack, world):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    key = stack.create(
        "/provider-keys",
        {
            "name": "dead-" + uuid.uuid4().hex[:8],
            "provider": "openai",
            "secret": "sk-dead",
            "base_url": f"http://127.0.0.1:{closed_port}/v1",
        },
    )
    vk = stack.create(
        "/virtual-keys",
        {"name": "dead", "profile_id": world["profile"]["id"], "provider_keys": {"openai": key["id"]}},
    )
    with pytest.raises(openai.InternalServerError) as err:
        sdk(stack, world["profile"]["id"], vk["token"]).chat.completions.create(model="m", messages=MESSAGES)
    assert err.value.status_code == 502
    assert err.value.body["code"] == "upstream_unreachable"
    assert str(closed_port) not in err.value.message, "upstream details stay in the gateway's log"


def test_silent_upstream_is_504_after_the_read_timeout(stack, world):
    client = sdk(stack, world["profile"]["id"], world["vk"]["token"])
    started = time.monotonic()
    with pytest.raises(openai.InternalServerError) as err:
        client.chat.completions.create(
            model="m",
            messages=MESSAGES,
            extra_headers={"x-mock-latency-ms": str((UPSTREAM_IDLE_TIMEOUT_SECS + 2) * 1000)},
        )
    assert err.value.status_code == 504
    assert err.value.body["code"] == "upstream_timeout"
    assert time.monotonic() - started < UPSTREAM_IDLE_TIMEOUT_SECS + 1.5


def test_upstream_errors_pass_through_unchanged(stack, world):
    client = sdk(stack, world["profile"]["id"], world["vk"]["token"])
    with pytest.raises(openai.RateLimitError) as err:
        client.chat.completions.create(model="mock-error-429", messages=MESSAGES)
    assert err.value.status_code == 429
    assert err.value.body["code"] == "mock_error"
    # The mock validates against OpenAI's schema: its 400 reaches the client as sent.
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model="m", messages=[{"role": "wizard", "content": "x"}])
    assert "Invalid request" in err.value.message


def test_passthrough_keys_reach_upstream_unchanged(stack, world):
    own_key = "sk-client-own-" + uuid.uuid4().hex
    completion = sdk(stack, world["profile"]["id"], own_key).chat.completions.create(model="m", messages=MESSAGES)
    seen = next(r for r in stack.mock_requests() if r["id"] == completion.id)
    assert seen["authorization"] == f"Bearer {own_key}"


def test_client_disconnect_mid_stream_leaves_the_gateway_serving(stack, world):
    res = requests.post(
        f"{stack.openai_base(world['profile']['id'])}/chat/completions",
        json={"model": "m", "messages": MESSAGES, "stream": True},
        headers={"Authorization": f"Bearer {world['vk']['token']}", "x-mock-chunks": "200", "x-mock-chunk-delay-ms": "20"},
        stream=True,
        timeout=10,
    )
    assert res.status_code == 200
    first = next(res.iter_lines())
    assert first.startswith(b"data: ")
    res.close()
    client = sdk(stack, world["profile"]["id"], world["vk"]["token"])
    assert client.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content

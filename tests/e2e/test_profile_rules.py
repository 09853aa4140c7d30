"""What profiles, virtual keys and provider keys configure is what the data plane does:
`require_virtual_key`, allowed models (per profile and provider, and per key), a provider
key's extra headers, and a team's default provider key."""

import time
import uuid

import openai
import pytest

from conftest import CACHE_TTL_SECS

MESSAGES = [{"role": "user", "content": "hi"}]


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def client(stack, profile_id: str, token: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=stack.openai_base(profile_id), api_key=token, max_retries=0)


def seen(stack, completion_id: str) -> dict:
    return next(r for r in stack.mock_requests() if r["id"] == completion_id)


def test_require_virtual_key_refuses_passthrough_keys(stack):
    profile = stack.create("/profiles", {"name": name("strict"), "require_virtual_key": True})
    key = stack.create("/provider-keys", {"name": name("k"), "provider": "openai", "secret": "sk-strict-1"})
    vk = stack.create("/virtual-keys", {"name": "v", "profile_id": profile["id"], "provider_keys": {"openai": key["id"]}})
    with pytest.raises(openai.AuthenticationError) as refused:
        client(stack, profile["id"], "sk-my-own-key").chat.completions.create(model="m", messages=MESSAGES)
    assert refused.value.code == "virtual_key_required"
    client(stack, profile["id"], vk["token"]).chat.completions.create(model="m", messages=MESSAGES)


def test_allowed_models_per_profile_and_per_key(stack):
    profile = stack.create(
        "/profiles", {"name": name("models"), "allowed_models": {"openai": ["gpt-4o-mini", "gpt-4.1"]}}
    )
    key = stack.create("/provider-keys", {"name": name("k"), "provider": "openai", "secret": "sk-models-1"})
    vk = stack.create(
        "/virtual-keys",
        {
            "name": "v",
            "profile_id": profile["id"],
            "provider_keys": {"openai": key["id"]},
            "allowed_models": ["gpt-4.1"],
        },
    )
    own = client(stack, profile["id"], "sk-passthrough")
    own.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    with pytest.raises(openai.PermissionDeniedError) as refused:
        own.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert refused.value.code == "model_not_allowed"
    virtual = client(stack, profile["id"], vk["token"])
    virtual.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    with pytest.raises(openai.PermissionDeniedError):
        virtual.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)


def test_extra_headers_and_the_team_default_key(stack):
    team = stack.create("/teams", {"name": name("team")})
    profile = stack.create("/profiles", {"name": name("p"), "team_id": team["id"]})
    default = stack.create(
        "/provider-keys",
        {
            "name": name("default"),
            "provider": "openai",
            "secret": "sk-team-default",
            "team_id": team["id"],
            "is_default": True,
            "extra_headers": {"X-Title": "gatehouse-e2e"},
        },
    )
    second_default = stack.api(
        "POST",
        "/provider-keys",
        {"name": name("d2"), "provider": "openai", "secret": "sk-2", "team_id": team["id"], "is_default": True},
    )
    assert second_default.status_code == 409, "one default per team and provider"
    vk = stack.create("/virtual-keys", {"name": "v", "profile_id": profile["id"], "team_id": team["id"]})
    completion = client(stack, profile["id"], vk["token"]).chat.completions.create(model="m", messages=MESSAGES)
    request = seen(stack, completion.id)
    assert request["authorization"] == "Bearer sk-team-default"
    assert request["headers"]["x-title"] == "gatehouse-e2e"
    assert default["is_default"]


def test_a_revoked_virtual_key_is_refused_once_the_cache_ttl_passed(stack):
    profile = stack.create("/profiles", {"name": name("revoke")})
    key = stack.create("/provider-keys", {"name": name("k"), "provider": "openai", "secret": "sk-revoke-1"})
    vk = stack.create("/virtual-keys", {"name": "v", "profile_id": profile["id"], "provider_keys": {"openai": key["id"]}})
    sdk = client(stack, profile["id"], vk["token"])
    sdk.chat.completions.create(model="m", messages=MESSAGES)
    revoked = stack.api("POST", f"/virtual-keys/{vk['id']}/revoke")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert stack.api("GET", f"/virtual-keys/{vk['id']}").json()["last_used_at"] is not None
    time.sleep(CACHE_TTL_SECS + 0.5)
    with pytest.raises(openai.AuthenticationError):
        sdk.chat.completions.create(model="m", messages=MESSAGES)

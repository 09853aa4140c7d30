"""Provider secrets: write-only through the API, absent from every response, audit event and
log line, and rotatable — `rotate-secrets` re-seals them under a new auth secret and the data
plane keeps working afterwards."""

import time
import uuid

import openai

from conftest import CACHE_TTL_SECS

MESSAGES = [{"role": "user", "content": "hi"}]


def chat(stack, profile_id: str, token: str):
    client = openai.OpenAI(base_url=stack.openai_base(profile_id), api_key=token, max_retries=0)
    return client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)


def upstream_authorization(stack, completion_id: str) -> str:
    return next(r for r in stack.mock_requests() if r["id"] == completion_id)["authorization"]


def test_secrets_never_appear_in_responses_audit_events_or_logs(own_stack):
    stack = own_stack
    first, second = "sk-marker-" + uuid.uuid4().hex, "sk-marker-" + uuid.uuid4().hex
    seen: list[str] = []

    def call(method, path, body=None, status=200):
        res = stack.api(method, path, body)
        assert res.status_code == status, res.text
        seen.append(res.text + str(res.headers))
        return res.json() if res.text else None

    key = call("POST", "/provider-keys", {"name": "marked", "provider": "openai", "secret": first}, 201)
    assert key["secret_last_four"] == first[-4:] and key["secret_fingerprint"].startswith("sha256:")
    call("GET", f"/provider-keys/{key['id']}")
    call("GET", "/provider-keys")
    update = {"name": "marked", "provider": "openai", "secret": second, "extra_headers": {"X-Team": "a"}}
    changed = call("PUT", f"/provider-keys/{key['id']}", update)
    assert changed["secret_fingerprint"] != key["secret_fingerprint"]
    call("PUT", f"/provider-keys/{key['id']}", {"name": "renamed", "provider": "openai"})
    profile = call("POST", "/profiles", {"name": "marked"}, 201)
    vk = call(
        "POST",
        "/virtual-keys",
        {"name": "marked", "profile_id": profile["id"], "provider_keys": {"openai": key["id"]}},
        201,
    )
    completion = chat(stack, profile["id"], vk["token"])
    assert upstream_authorization(stack, completion.id) == f"Bearer {second}", "the secret does reach upstream"
    events = call("GET", "/audit-events?resource_type=provider-keys&limit=500")["data"]
    assert [e["action"] for e in events] == ["create", "update", "update"]
    assert events[1]["actor_name"] == "bootstrap"
    call("DELETE", f"/virtual-keys/{vk['id']}", status=204)
    call("DELETE", f"/provider-keys/{key['id']}", status=204)
    call("GET", "/audit-events?limit=500")
    for text in seen:
        assert first not in text and second not in text
    for log in stack.logs:
        if log.name.startswith("mock"):
            continue  # the fake upstream is meant to receive the secret
        content = log.read_text(errors="replace")
        assert content, f"{log} is empty: the check would prove nothing"
        assert first not in content and second not in content, f"a secret is in {log.name}"


def test_rotating_the_auth_secret_re_seals_every_secret(own_stack):
    stack = own_stack
    old_secret = stack.cp_env["GATEHOUSE_AUTH_SECRET"]
    new_secret = "e2e-rotated-auth-secret-" + uuid.uuid4().hex
    provider_secret = "sk-rotate-" + uuid.uuid4().hex
    key = stack.create("/provider-keys", {"name": "rotate", "provider": "openai", "secret": provider_secret})
    profile = stack.create("/profiles", {"name": "rotate"})

    def fresh_virtual_key() -> str:
        body = {"name": "rotate", "profile_id": profile["id"], "provider_keys": {"openai": key["id"]}}
        return stack.create("/virtual-keys", body)["token"]

    completion = chat(stack, profile["id"], fresh_virtual_key())
    assert upstream_authorization(stack, completion.id) == f"Bearer {provider_secret}"

    # A new auth secret without the old one cannot open what was sealed before.
    stack.stop_control_plane()
    stack.start_control_plane(GATEHOUSE_AUTH_SECRET=new_secret)
    try:
        chat(stack, profile["id"], fresh_virtual_key())
        raise AssertionError("a secret sealed under the old auth secret was opened without it")
    except openai.APIStatusError as e:
        assert e.status_code >= 500
    stack.stop_control_plane()

    rotated = stack.control_plane_command(
        "rotate-secrets", GATEHOUSE_AUTH_SECRET=new_secret, GATEHOUSE_PREVIOUS_AUTH_SECRETS=old_secret
    )
    assert rotated.returncode == 0, rotated.stderr + rotated.stdout
    assert "count=1" in rotated.stdout + rotated.stderr
    assert provider_secret not in rotated.stdout + rotated.stderr

    # Only the new secret from now on: the data plane still gets the provider secret.
    stack.start_control_plane(GATEHOUSE_AUTH_SECRET=new_secret)
    time.sleep(CACHE_TTL_SECS)
    completion = chat(stack, profile["id"], fresh_virtual_key())
    assert upstream_authorization(stack, completion.id) == f"Bearer {provider_secret}"
    again = stack.control_plane_command("rotate-secrets", GATEHOUSE_AUTH_SECRET=new_secret)
    assert again.returncode == 0 and "count=0" in again.stdout + again.stderr

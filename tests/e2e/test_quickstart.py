"""The quickstart as a platform engineer runs it: terraform apply, then the application's
unchanged OpenAI SDK streams through the data plane with the virtual key."""

import json
import time
import uuid

import openai
import pytest

from conftest import CACHE_TTL_SECS


def planned_resource_actions(tf) -> dict:
    """Resource address → planned actions, for every resource whose plan is not a no-op."""
    tf.run("plan", "-input=false", "-out=check.tfplan")
    plan = json.loads(tf.run("show", "-json", "check.tfplan").stdout)
    return {
        rc["address"]: rc["change"]["actions"]
        for rc in plan.get("resource_changes", [])
        if rc["change"]["actions"] != ["no-op"]
    }


def test_quickstart_terraform_to_streaming_openai_sdk(stack, terraform_factory):
    provider_secret = "sk-quickstart-" + uuid.uuid4().hex
    tf = terraform_factory(
        "quickstart", {"openai_api_key": provider_secret, "data_plane_url": stack.proxy_url}
    )
    tf.run("init", "-input=false")
    tf.run("apply", "-auto-approve", "-input=false")
    assert tf.run("plan", "-detailed-exitcode", "-input=false", check=False).returncode == 0

    out = tf.outputs()
    token = out["virtual_key"]
    assert token.startswith("gh_vk_")
    client = openai.OpenAI(base_url=out["openai_base_url"], api_key=token, max_retries=0)

    # Stream: 20 chunks 50 ms apart, so the whole reply takes about a second upstream.
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Say hello"}],
        stream=True,
        stream_options={"include_usage": True},
        extra_headers={"x-mock-chunk-delay-ms": "50"},
    )
    first_delta_at = None
    text = ""
    chunk_id = None
    usage = None
    for chunk in stream:
        chunk_id = chunk.id
        if chunk.usage:
            usage = chunk.usage
        if chunk.choices and chunk.choices[0].delta.content:
            if first_delta_at is None:
                first_delta_at = time.time()
            text += chunk.choices[0].delta.content
    assert text.startswith("Hello from the Gatehouse mock provider,")
    assert usage is not None and usage.completion_tokens == 20

    recorded = [r for r in stack.mock_requests() if r["id"] == chunk_id]
    assert len(recorded) == 1
    seen = recorded[0]
    assert seen["authorization"] == f"Bearer {provider_secret}", "the mock must see the stored secret"
    assert token not in json.dumps(stack.mock_requests()), "the virtual key must never reach upstream"
    assert seen["finished_at"] is not None
    assert first_delta_at < seen["finished_at"], (
        f"first delta at {first_delta_at}, mock finished at {seen['finished_at']}: the gateway buffered"
    )

    # Non-streaming through the same key.
    completion = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "again"}]
    )
    assert completion.choices[0].message.content.startswith("Hello from")
    assert completion.usage.prompt_tokens == 1

    # A change made outside Terraform shows up as drift, and apply repairs it.
    profile_id = out["openai_base_url"].rsplit("/", 1)[1]
    res = stack.api("PUT", f"/profiles/{profile_id}", {"name": "quickstart", "description": "edited by hand"})
    assert res.status_code == 200, res.text
    drift = tf.run("plan", "-detailed-exitcode", "-input=false", check=False)
    assert drift.returncode == 2 and "edited by hand" in drift.stdout, drift.stdout
    tf.run("apply", "-auto-approve", "-input=false")
    assert tf.run("plan", "-detailed-exitcode", "-input=false", check=False).returncode == 0

    # Import by id: forget the profile, import it, and no resource needs a change.
    tf.run("state", "rm", "gatehouse_profile.quickstart")
    tf.run("import", "-input=false", "gatehouse_profile.quickstart", profile_id)
    assert planned_resource_actions(tf) == {}

    # Deleted outside Terraform: read drops it from state, and the plan recreates it.
    key_id = json.loads(tf.run("show", "-json").stdout)["values"]["root_module"]["resources"]
    vk_id = next(r["values"]["id"] for r in key_id if r["type"] == "gatehouse_virtual_key")
    assert stack.api("DELETE", f"/virtual-keys/{vk_id}").status_code == 204
    gone = tf.run("plan", "-detailed-exitcode", "-input=false", check=False)
    assert gone.returncode == 2 and "gatehouse_virtual_key.app will be created" in gone.stdout, gone.stdout
    tf.run("apply", "-auto-approve", "-input=false")
    token = tf.outputs()["virtual_key"]
    client = openai.OpenAI(base_url=out["openai_base_url"], api_key=token, max_retries=0)
    client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])

    # Destroy: once the cache TTL has passed, the key is refused.
    tf.run("destroy", "-auto-approve", "-input=false")
    time.sleep(CACHE_TTL_SECS + 0.5)
    with pytest.raises(openai.AuthenticationError) as refused:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert refused.value.status_code == 401

    # Nothing secret reached any log.
    for log in stack.logs:
        content = log.read_text(errors="replace")
        # Booleans only, so a failure never prints the secret itself.
        secret_leaked, token_leaked = provider_secret in content, token in content
        assert not secret_leaked, f"provider secret in {log.name}"
        assert not token_leaked, f"virtual key in {log.name}"

"""Every configuration in terraform-examples/ with the real Terraform CLI against a live
control plane: `terraform fmt -check`, apply, a clean plan, a change made through the REST
API that the plan shows as exactly that drift, apply restoring it, and destroy leaving
nothing behind. Also: 200 resources applied with -parallelism=10 in under 30 s."""

import json
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from conftest import ROOT, terraform_binary

EXAMPLES = ROOT / "terraform-examples"


def resources(tf) -> list[dict]:
    values = json.loads(tf.run("show", "-json").stdout).get("values") or {}
    return values.get("root_module", {}).get("resources", [])


def resource_id(tf, address: str) -> str:
    return next(r["values"]["id"] for r in resources(tf) if r["address"] == address)


def planned_changes(tf) -> dict[str, list[str]]:
    tf.run("plan", "-input=false", "-out=check.tfplan")
    plan = json.loads(tf.run("show", "-json", "check.tfplan").stdout)
    return {
        rc["address"]: rc["change"]["actions"]
        for rc in plan.get("resource_changes", [])
        if rc["change"]["actions"] != ["no-op"]
    }


# example → (variables, environment, the resource to drift, its REST path, the field and
# the value written behind Terraform's back)
def examples(prefix: str):
    return {
        "quickstart": ({"openai_api_key": "sk-example-" + prefix}, {},
                       "gatehouse_profile.quickstart", "/profiles", "description", "edited by hand"),
        "multi-team": ({"search_anthropic_api_key": "sk-ant-" + prefix, "name_prefix": prefix},
                       {"PAYMENTS_OPENAI_API_KEY": "sk-payments-" + prefix},
                       'gatehouse_team.team["payments"]', "/teams", "description", "renamed by hand"),
        "agent-security": ({"name_prefix": prefix}, {},
                           "gatehouse_tool_invocation_policy.no_deletes", "/tool-invocation-policies",
                           "action", "allow_always"),
        "budgets": ({"name_prefix": prefix}, {},
                    "gatehouse_limit.organization_spend", "/limits", "max", 1),
    }


def test_every_example_is_covered():
    assert sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir()) == sorted(examples("x"))
    for example in examples("x"):
        assert (EXAMPLES / example / "README.md").is_file(), example


def test_examples_are_formatted():
    proc = subprocess.run([str(terraform_binary()), "fmt", "-check", "-recursive", "-diff", str(EXAMPLES)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("example", list(examples("x")))
def test_example_apply_drift_destroy(stack, terraform_factory, monkeypatch, example):
    prefix = "ex" + uuid.uuid4().hex[:6]
    variables, env, address, collection, field, drifted = examples(prefix)[example]
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    tf = terraform_factory(example, variables)
    tf.run("init", "-input=false")
    tf.run("apply", "-auto-approve", "-input=false")
    assert planned_changes(tf) == {}, "clean plan after apply"
    created = {r["address"]: r["values"].get("id") for r in resources(tf) if r["mode"] == "managed"}
    state_text = tf.run("show", "-json").stdout
    for secret in env.values():
        assert secret not in state_text, "secret_env secrets never enter state"

    # A change through the REST API is exactly one planned in-place update.
    object_id = resource_id(tf, address)
    current = stack.api("GET", f"{collection}/{object_id}").json()
    body = {k: v for k, v in current.items()
            if k not in ("id", "version", "created_at", "updated_at", "secret_last_four", "secret_fingerprint",
                         "token_prefix", "last_used_at", "revoked_at")}
    if collection == "/models":
        body["provider"] = current["provider"]
    body[field] = drifted
    assert stack.api("PUT", f"{collection}/{object_id}", body).status_code == 200
    assert planned_changes(tf) == {address: ["update"]}
    tf.run("apply", "-auto-approve", "-input=false")
    assert stack.api("GET", f"{collection}/{object_id}").json()[field] != drifted
    assert planned_changes(tf) == {}

    tf.run("destroy", "-auto-approve", "-input=false")
    paths = {"gatehouse_team": "/teams", "gatehouse_api_key": "/api-keys", "gatehouse_profile": "/profiles",
             "gatehouse_provider_key": "/provider-keys", "gatehouse_virtual_key": "/virtual-keys",
             "gatehouse_limit": "/limits", "gatehouse_tool_invocation_policy": "/tool-invocation-policies",
             "gatehouse_trusted_data_policy": "/trusted-data-policies", "gatehouse_model_price": "/models"}
    for addr, object_id in created.items():
        kind = addr.split(".")[0]
        if kind == "gatehouse_organization_settings":
            org = stack.api("GET", "/organization").json()
            assert org["global_tool_policy"] == "permissive", "destroy restored the defaults"
            continue
        assert stack.api("GET", f"{paths[kind]}/{object_id}").status_code == 404, f"{addr} left behind"


def test_two_hundred_resources_apply_in_under_30_seconds(stack, terraform_factory):
    prefix = "bulk" + uuid.uuid4().hex[:6]
    tf = terraform_factory.inline("bulk", (
        f'resource "gatehouse_team" "t" {{\n  count = 100\n  name = "{prefix}-${{count.index}}"\n}}\n'
        f'resource "gatehouse_profile" "p" {{\n  count = 100\n  name = "{prefix}-${{count.index}}"\n'
        '  team_id = gatehouse_team.t[count.index].id\n}\n'
    ))
    tf.run("init", "-input=false")
    started = time.monotonic()
    tf.run("apply", "-auto-approve", "-input=false", "-parallelism=10")
    elapsed = time.monotonic() - started
    print(f"\napplied 200 resources with -parallelism=10 in {elapsed:.1f} s")
    (Path(tf.workdir) / "apply-seconds.txt").write_text(f"{elapsed:.2f}\n")
    assert len(resources(tf)) == 200
    assert elapsed < 30, f"{elapsed:.1f} s"
    tf.run("destroy", "-auto-approve", "-input=false", "-parallelism=10")

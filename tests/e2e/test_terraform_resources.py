"""Acceptance tests of each Terraform resource with the real Terraform CLI against a live
control plane: create → plan clean → update in place → plan clean → import into an empty
state → plan clean → a change made through the REST API shows as drift and apply restores
it → destroy leaves nothing behind; plus plan-time validation and 412/403 diagnostics."""

import uuid

import pytest
import requests

from conftest import ADMIN_KEY


def plan_exit(tf) -> int:
    return tf.run("plan", "-detailed-exitcode", "-input=false", check=False).returncode


def plan_text(tf) -> str:
    res = tf.run("plan", "-input=false", check=False)
    return res.stdout + res.stderr


def rest(stack, method, path, **kwargs):
    return requests.request(method, f"{stack.api_url}/api/v1{path}",
                            headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=10, **kwargs)


def state_id(tf, address) -> str:
    show = tf.run("state", "show", "-no-color", address).stdout
    return next(line.split("=", 1)[1].strip().strip('"') for line in show.splitlines()
                if line.strip().startswith("id "))


def suffix() -> str:
    return uuid.uuid4().hex[:8]


# Each case: the resource under test (`address`), config v1, config v2 (an in-place update
# of `field` to `new`), its REST collection, and a PUT body that drifts it.
def cases():
    s = suffix()
    profile = f'resource "gatehouse_profile" "p" {{\n  name = "vkp-{s}"\n}}\n'
    key = (f'resource "gatehouse_provider_key" "k" {{\n  name = "vkk-{s}"\n  provider_type = "openai"\n'
           '  secret = "sk-vk-secret-1"\n}\n')
    condition = '  conditions {\n    path = "$.to"\n    operator = "ends_with"\n    value = "@acme.com"\n  }\n'
    return {
        "team": dict(
            address="gatehouse_team.t",
            v1=f'resource "gatehouse_team" "t" {{\n  name = "team-{s}"\n  description = "first"\n}}\n',
            v2=f'resource "gatehouse_team" "t" {{\n  name = "team-{s}"\n  description = "second"\n}}\n',
            collection="/teams", field="description", new="second",
            drift={"name": f"team-{s}", "description": "changed outside"},
        ),
        "model_price": dict(
            address="gatehouse_model_price.m",
            v1=(f'resource "gatehouse_model_price" "m" {{\n  provider_type = "openai"\n  model = "acme-{s}"\n'
                '  input_price_per_million = 1.5\n  output_price_per_million = 6\n}\n'),
            v2=(f'resource "gatehouse_model_price" "m" {{\n  provider_type = "openai"\n  model = "acme-{s}"\n'
                '  input_price_per_million = 1.25\n  output_price_per_million = 6\n'
                '  cached_input_price_per_million = 0.5\n}\n'),
            collection="/models", field="input_price_per_million", new=1.25,
            drift={"provider": "openai", "model": f"acme-{s}", "input_price_per_million": 9,
                   "output_price_per_million": 6, "cached_input_price_per_million": 0.5},
        ),
        "limit": dict(
            address="gatehouse_limit.l",
            v1=('resource "gatehouse_limit" "l" {\n  scope = "organization"\n  metric = "cost_usd"\n'
                '  window = "month"\n  max = 100\n}\n'),
            v2=('resource "gatehouse_limit" "l" {\n  scope = "organization"\n  metric = "cost_usd"\n'
                '  window = "month"\n  max = 250.5\n}\n'),
            collection="/limits", field="max", new=250.5,
            drift={"scope": "organization", "metric": "cost_usd", "window": "month", "max": 7},
        ),
        "api_key": dict(
            address="gatehouse_api_key.a",
            v1=f'resource "gatehouse_api_key" "a" {{\n  name = "ci-{s}"\n  role = "viewer"\n}}\n',
            v2=f'resource "gatehouse_api_key" "a" {{\n  name = "ci-{s}"\n  role = "editor"\n}}\n',
            collection="/api-keys", field="role", new="editor",
            drift={"name": f"ci-{s}", "role": "admin"},
        ),
        "profile": dict(
            address="gatehouse_profile.p",
            v1=f'resource "gatehouse_profile" "p" {{\n  name = "prof-{s}"\n  labels = {{ env = "dev" }}\n}}\n',
            v2=(f'resource "gatehouse_profile" "p" {{\n  name = "prof-{s}"\n  labels = {{ env = "prod" }}\n'
                '  require_virtual_key = true\n  allowed_models = { openai = ["gpt-4o*"] }\n}\n'),
            collection="/profiles", field="labels", new={"env": "prod"},
            drift={"name": f"prof-{s}", "labels": {"env": "changed"}, "require_virtual_key": True,
                   "allowed_models": {"openai": ["gpt-4o*"]}},
        ),
        "virtual_key": dict(
            address="gatehouse_virtual_key.v",
            v1=profile + key + (f'resource "gatehouse_virtual_key" "v" {{\n  name = "vk-{s}"\n'
                                '  profile_id = gatehouse_profile.p.id\n'
                                '  provider_keys = { openai = gatehouse_provider_key.k.id }\n}\n'),
            v2=profile + key + (f'resource "gatehouse_virtual_key" "v" {{\n  name = "vk-{s}"\n'
                                '  profile_id = gatehouse_profile.p.id\n'
                                '  provider_keys = { openai = gatehouse_provider_key.k.id }\n'
                                '  allowed_models = ["gpt-4o-mini"]\n}\n'),
            collection="/virtual-keys", field="allowed_models", new=["gpt-4o-mini"],
            drift=None,  # built from the live object below (it names the profile and key)
            import_updates=True,  # the provider key imported beside it records its secret
        ),
        "tool_invocation_policy": dict(
            address="gatehouse_tool_invocation_policy.t",
            v1=(f'resource "gatehouse_tool_invocation_policy" "t" {{\n  tool_name = "send_email_{s}"\n'
                + condition + '  action = "block_when_context_is_untrusted"\n  reason = "mail stays inside"\n}\n'),
            v2=(f'resource "gatehouse_tool_invocation_policy" "t" {{\n  tool_name = "send_email_{s}"\n'
                + condition + '  action = "block_always"\n  reason = "mail stays inside"\n}\n'),
            collection="/tool-invocation-policies", field="action", new="block_always",
            drift={"tool_name": f"send_email_{s}", "action": "allow_always", "reason": "mail stays inside",
                   "conditions": [{"path": "$.to", "operator": "ends_with", "value": "@acme.com"}]},
        ),
        "trusted_data_policy": dict(
            address="gatehouse_trusted_data_policy.d",
            v1=(f'resource "gatehouse_trusted_data_policy" "d" {{\n  tool_name = "read_inbox_{s}"\n'
                '  conditions {\n    path = "$.messages[*].from"\n    operator = "in"\n    values = ["a@acme.com", "b@acme.com"]\n  }\n'
                '  action = "mark_as_trusted"\n}\n'),
            v2=(f'resource "gatehouse_trusted_data_policy" "d" {{\n  tool_name = "read_inbox_{s}"\n'
                '  conditions {\n    path = "$.messages[*].from"\n    operator = "in"\n    values = ["a@acme.com", "b@acme.com"]\n  }\n'
                '  action = "block"\n}\n'),
            collection="/trusted-data-policies", field="action", new="block",
            drift={"tool_name": f"read_inbox_{s}", "action": "mark_as_untrusted",
                   "conditions": [{"path": "$.messages[*].from", "operator": "in",
                                   "value": ["a@acme.com", "b@acme.com"]}]},
        ),
        "provider_key": dict(
            address="gatehouse_provider_key.k",
            v1=(f'resource "gatehouse_provider_key" "k" {{\n  name = "pk-{s}"\n  provider_type = "anthropic"\n'
                '  secret_env = "GH_TF_TEST_ANTHROPIC_KEY"\n}\n'),
            v2=(f'resource "gatehouse_provider_key" "k" {{\n  name = "pk-{s}"\n  provider_type = "anthropic"\n'
                '  secret_env = "GH_TF_TEST_ANTHROPIC_KEY"\n  extra_headers = { "anthropic-beta" = "x" }\n}\n'),
            collection="/provider-keys", field="extra_headers", new={"anthropic-beta": "x"},
            drift={"name": f"pk-{s}", "provider": "anthropic", "secret": "sk-ant-replaced-outside",
                   "extra_headers": {"anthropic-beta": "x"}},
            # How the secret is supplied is not in the API: importing records it with one
            # in-place update.
            import_updates=True,
        ),
    }


CASES = list(cases())


@pytest.mark.parametrize("kind", CASES)
def test_resource_lifecycle(stack, terraform_factory, kind, monkeypatch):
    monkeypatch.setenv("GH_TF_TEST_ANTHROPIC_KEY", "sk-ant-from-env-" + suffix())
    case = cases()[kind]
    address, collection, field = case["address"], case["collection"], case["field"]
    tf = terraform_factory.inline(f"{kind}-life", case["v1"])
    tf.run("init", "-input=false")
    tf.run("apply", "-auto-approve", "-input=false")
    assert plan_exit(tf) == 0, plan_text(tf)
    object_id = state_id(tf, address)

    (tf.workdir / "main.tf").write_text((tf.workdir / "main.tf").read_text().replace(case["v1"], case["v2"]))
    out = tf.run("plan", "-input=false").stdout
    assert "update in-place" in out and "must be replaced" not in out, out
    tf.run("apply", "-auto-approve", "-input=false")
    assert plan_exit(tf) == 0, plan_text(tf)
    assert state_id(tf, address) == object_id, "updated in place"
    assert rest(stack, "GET", f"{collection}/{object_id}").json()[field] == case["new"]
    state = tf.run("show", "-json").stdout
    assert "sk-ant-from-env" not in state, "a secret_env secret never enters state"

    # Import into an empty state: the same configuration plans clean.
    imported = terraform_factory.inline(f"{kind}-import", case["v2"])
    imported.run("init", "-input=false")
    for other in ("gatehouse_profile.p", "gatehouse_provider_key.k"):
        if other != address and other in tf.run("state", "list").stdout:
            imported.run("import", "-input=false", other, state_id(tf, other))
    imported.run("import", "-input=false", address, object_id)
    if case.get("import_updates"):
        assert plan_exit(imported) == 2
        imported.run("apply", "-auto-approve", "-input=false")
    assert plan_exit(imported) == 0, plan_text(imported)

    # Drift: a change through the REST API shows in the plan; apply restores it.
    drift = case["drift"]
    if drift is None:
        drift = {k: v for k, v in rest(stack, "GET", f"{collection}/{object_id}").json().items()
                 if k in ("name", "profile_id", "provider_keys", "expires_at", "team_id")}
        drift["allowed_models"] = ["changed-outside"]
    assert rest(stack, "PUT", f"{collection}/{object_id}", json=drift).status_code == 200
    drifted = tf.run("plan", "-input=false", check=False)
    assert plan_exit(tf) == 2 and "update in-place" in drifted.stdout, drifted.stdout
    tf.run("apply", "-auto-approve", "-input=false")
    assert rest(stack, "GET", f"{collection}/{object_id}").json()[field] == case["new"]
    assert plan_exit(tf) == 0, plan_text(tf)

    # Deleted outside Terraform: the plan recreates it.
    assert rest(stack, "DELETE", f"{collection}/{object_id}").status_code == 204
    assert "will be created" in tf.run("plan", "-input=false").stdout
    tf.run("apply", "-auto-approve", "-input=false")
    recreated = state_id(tf, address)
    assert recreated != object_id

    tf.run("destroy", "-auto-approve", "-input=false")
    assert rest(stack, "GET", f"{collection}/{recreated}").status_code == 404


def test_organization_settings_singleton(stack, terraform_factory):
    v1 = 'resource "gatehouse_organization_settings" "o" {\n  name = "Acme"\n  global_tool_policy = "permissive"\n}\n'
    tf = terraform_factory.inline("organization", v1)
    tf.run("init", "-input=false")
    tf.run("apply", "-auto-approve", "-input=false")
    assert plan_exit(tf) == 0, plan_text(tf)
    (tf.workdir / "main.tf").write_text((tf.workdir / "main.tf").read_text().replace("permissive", "restrictive"))
    tf.run("apply", "-auto-approve", "-input=false")
    assert rest(stack, "GET", "/organization").json()["global_tool_policy"] == "restrictive"
    assert plan_exit(tf) == 0, plan_text(tf)
    rest(stack, "PUT", "/organization", json={"name": "Changed", "global_tool_policy": "restrictive"})
    assert plan_exit(tf) == 2
    tf.run("apply", "-auto-approve", "-input=false")
    assert rest(stack, "GET", "/organization").json()["name"] == "Acme"
    imported = terraform_factory.inline("organization-import", (tf.workdir / "main.tf").read_text().split("provider \"gatehouse\" {}\n", 1)[1])
    imported.run("init", "-input=false")
    imported.run("import", "-input=false", "gatehouse_organization_settings.o", "organization")
    assert plan_exit(imported) == 0, plan_text(imported)
    tf.run("destroy", "-auto-approve", "-input=false")
    org = rest(stack, "GET", "/organization").json()
    assert (org["name"], org["global_tool_policy"]) == ("default", "permissive"), "destroy restores the defaults"


def test_plan_time_validation(stack, terraform_factory):
    tf = terraform_factory.inline("invalid", (
        'resource "gatehouse_tool_invocation_policy" "bad" {\n  tool_name = "x"\n  action = "maybe"\n'
        '  conditions {\n    path = "to"\n    operator = "like"\n    value = "a"\n  }\n'
        '  conditions {\n    path = "$.a"\n    operator = "in"\n    value = "b"\n  }\n'
        '  conditions {\n    path = "$.b"\n    operator = "regex"\n    value = "("\n  }\n}\n'
        'resource "gatehouse_provider_key" "bad" {\n  name = "k"\n  provider_type = "openai"\n}\n'
        'resource "gatehouse_api_key" "bad" {\n  name = "k"\n  role = "owner"\n}\n'
        
        'resource "gatehouse_limit" "bad" {\n  scope = "galaxy"\n  metric = "tokens"\n'
        '  window = "fortnight"\n  max = -1\n}\n'
        'resource "gatehouse_model_price" "bad" {\n  provider_type = "nope"\n  model = "m"\n'
        '  input_price_per_million = -2\n  output_price_per_million = 1\n}\n'
        'resource "gatehouse_team" "bad" {\n  name = ""\n}\n'
    ))
    tf.run("init", "-input=false")
    res = tf.run("validate", check=False)
    assert res.returncode == 1
    errors = res.stdout + res.stderr
    for expected in ("Invalid scope", "Invalid window", "max must be greater than 0", "Unknown provider",
                     "input_price_per_million must be", "name must be 1–128 characters", "Invalid action",
                     "Invalid condition path", "Invalid operator", "`in` takes `values`", "Invalid regex",
                     "one of secret or secret_env is required", "Invalid role"):
        assert expected in errors, (expected, errors)
    before = rest(stack, "GET", "/limits").json()
    assert tf.run("apply", "-auto-approve", "-input=false", check=False).returncode == 1
    assert rest(stack, "GET", "/limits").json() == before, "nothing reached the API"


def test_a_concurrent_change_is_a_clear_conflict_not_an_overwrite(stack, terraform_factory):
    s = suffix()
    tf = terraform_factory.inline("conflict", f'resource "gatehouse_team" "t" {{\n  name = "c-{s}"\n}}\n')
    tf.run("init", "-input=false")
    tf.run("apply", "-auto-approve", "-input=false")
    team_id = state_id(tf, "gatehouse_team.t")
    (tf.workdir / "main.tf").write_text((tf.workdir / "main.tf").read_text().replace(
        f'name = "c-{s}"', f'name = "c-{s}"\n  description = "from terraform"'))
    tf.run("plan", "-input=false", "-out=pending.tfplan")
    # Someone else changes the team between plan and apply.
    rest(stack, "PUT", f"/teams/{team_id}", json={"name": f"c-{s}", "description": "from the UI"})
    res = tf.run("apply", "-input=false", "pending.tfplan", check=False)
    assert res.returncode == 1
    assert "changed outside Terraform" in res.stderr, res.stderr
    assert rest(stack, "GET", f"/teams/{team_id}").json()["description"] == "from the UI"
    tf.run("destroy", "-auto-approve", "-input=false")


def test_every_resource_and_data_source_is_documented(terraform_factory):
    """The provider's real schema (as Terraform reads it) against terraform-provider/docs:
    a page per resource and data source, naming every argument and attribute, with an
    import section for resources."""
    import json as _json

    from conftest import ROOT

    tf = terraform_factory.inline("schema", "")
    tf.run("init", "-input=false")
    schema = _json.loads(tf.run("providers", "schema", "-json").stdout)
    (provider,) = schema["provider_schemas"].values()
    docs = ROOT / "terraform-provider" / "docs"
    expected = {"team", "api_key", "profile", "provider_key", "virtual_key", "tool_invocation_policy",
                "trusted_data_policy", "limit", "model_price", "organization_settings"}
    assert {k.removeprefix("gatehouse_") for k in provider["resource_schemas"]} == expected
    assert {k.removeprefix("gatehouse_") for k in provider["data_source_schemas"]} == {
        "team", "profile", "provider_key", "models"}
    for kind, folder in (("resource_schemas", "resources"), ("data_source_schemas", "data-sources")):
        for name, body in provider[kind].items():
            page = docs / folder / f"{name.removeprefix('gatehouse_')}.md"
            assert page.is_file(), page
            text = page.read_text()
            assert "## Example Usage" in text, page
            if folder == "resources":
                assert "## Import" in text, page
                names = list(body["block"]["attributes"]) + list(body["block"].get("block_types", {}))
                for attr in names:
                    assert f"`{attr}`" in text, f"{page.name} does not document `{attr}`"


def test_a_key_without_permission_gets_a_clear_diagnostic(stack, terraform_factory):
    viewer = rest(stack, "POST", "/api-keys", json={"name": "viewer-" + suffix(), "role": "viewer"}).json()
    tf = terraform_factory.inline("viewer", f'resource "gatehouse_team" "t" {{\n  name = "v-{suffix()}"\n}}\n')
    tf.env["GATEHOUSE_API_KEY"] = viewer["token"]
    tf.run("init", "-input=false")
    res = tf.run("apply", "-auto-approve", "-input=false", check=False)
    assert res.returncode == 1
    assert "permission denied" in res.stderr and "role or team" in res.stderr, res.stderr

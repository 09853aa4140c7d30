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


# resource type → (config v1, config v2 updated in place, REST collection, a field the update
# changes and its new value, a REST PUT body that drifts it)
def cases():
    s = suffix()
    return {
        "team": (
            f'resource "gatehouse_team" "t" {{\n  name = "team-{s}"\n  description = "first"\n}}\n',
            f'resource "gatehouse_team" "t" {{\n  name = "team-{s}"\n  description = "second"\n}}\n',
            "/teams", ("description", "second"),
            {"name": f"team-{s}", "description": "changed outside"},
        ),
        "model_price": (
            f'resource "gatehouse_model_price" "m" {{\n  provider_type = "openai"\n  model = "acme-{s}"\n'
            '  input_price_per_million = 1.5\n  output_price_per_million = 6\n}\n',
            f'resource "gatehouse_model_price" "m" {{\n  provider_type = "openai"\n  model = "acme-{s}"\n'
            '  input_price_per_million = 1.25\n  output_price_per_million = 6\n  cached_input_price_per_million = 0.5\n}\n',
            "/models", ("input_price_per_million", 1.25),
            {"provider": "openai", "model": f"acme-{s}", "input_price_per_million": 9,
             "output_price_per_million": 6, "cached_input_price_per_million": 0.5},
        ),
        "limit": (
            'resource "gatehouse_limit" "l" {\n  scope = "organization"\n  metric = "cost_usd"\n'
            '  window = "month"\n  max = 100\n}\n',
            'resource "gatehouse_limit" "l" {\n  scope = "organization"\n  metric = "cost_usd"\n'
            '  window = "month"\n  max = 250.5\n}\n',
            "/limits", ("max", 250.5),
            {"scope": "organization", "metric": "cost_usd", "window": "month", "max": 7},
        ),
    }


CASES = list(cases())


@pytest.mark.parametrize("kind", CASES)
def test_resource_lifecycle(stack, terraform_factory, kind):
    v1, v2, collection, (field, new_value), drift_body = cases()[kind]
    name = v1.split('"')[3]
    address = f"gatehouse_{kind}.{name}"
    tf = terraform_factory.inline(f"{kind}-life", v1)
    tf.run("init", "-input=false")
    tf.run("apply", "-auto-approve", "-input=false")
    assert plan_exit(tf) == 0, plan_text(tf)
    object_id = state_id(tf, address)

    (tf.workdir / "main.tf").write_text((tf.workdir / "main.tf").read_text().replace(v1, v2))
    out = tf.run("plan", "-input=false").stdout
    assert "update in-place" in out and "must be replaced" not in out, out
    tf.run("apply", "-auto-approve", "-input=false")
    assert plan_exit(tf) == 0, plan_text(tf)
    assert state_id(tf, address) == object_id, "updated in place"
    assert rest(stack, "GET", f"{collection}/{object_id}").json()[field] == new_value

    # Import into an empty state: the same configuration plans clean.
    imported = terraform_factory.inline(f"{kind}-import", v2)
    imported.run("init", "-input=false")
    imported.run("import", "-input=false", address, object_id)
    assert plan_exit(imported) == 0, plan_text(imported)

    # Drift: a change through the REST API shows in the plan; apply restores it.
    assert rest(stack, "PUT", f"{collection}/{object_id}", json=drift_body).status_code == 200
    drift = tf.run("plan", "-input=false", check=False)
    assert plan_exit(tf) == 2 and "update in-place" in drift.stdout, drift.stdout
    tf.run("apply", "-auto-approve", "-input=false")
    assert rest(stack, "GET", f"{collection}/{object_id}").json()[field] == new_value
    assert plan_exit(tf) == 0

    # Deleted outside Terraform: the plan recreates it.
    assert rest(stack, "DELETE", f"{collection}/{object_id}").status_code == 204
    assert "will be created" in tf.run("plan", "-input=false").stdout
    tf.run("apply", "-auto-approve", "-input=false")
    recreated = state_id(tf, address)
    assert recreated != object_id

    tf.run("destroy", "-auto-approve", "-input=false")
    assert rest(stack, "GET", f"{collection}/{recreated}").status_code == 404


def test_plan_time_validation(stack, terraform_factory):
    tf = terraform_factory.inline("invalid", (
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
                     "input_price_per_million must be", "name must be 1–128 characters"):
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

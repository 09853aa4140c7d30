"""Every /api/v1 endpoint × role (admin, editor, viewer) × scope (organization-wide key, key
scoped to team A) × owner of the object (team A, team B), against the running control plane.

A team-scoped key must never see or change team B's objects, and must get 404 (not 403) for
them so their existence does not leak; a role below what an operation needs gets 403."""

import uuid

import pytest
import requests

from conftest import ADMIN_KEY

ROLES = ["viewer", "editor", "admin"]
RANK = {r: i for i, r in enumerate(ROLES)}
SCOPES = ["org", "team"]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class World:
    """Teams A and B, a profile in each, and one API key per role × scope."""

    def __init__(self, stack):
        self.stack = stack
        self.team = {t: stack.create("/teams", {"name": unique(f"team-{t}")})["id"] for t in "AB"}
        self.profile = {
            t: stack.create("/profiles", {"name": unique("p"), "team_id": self.team[t]})["id"] for t in "AB"
        }
        self.provider_key = {
            t: stack.create(
                "/provider-keys",
                {"name": unique("pk"), "provider": "openai", "secret": "sk-" + uuid.uuid4().hex, "team_id": self.team[t]},
            )["id"]
            for t in "AB"
        }
        self.keys = {}
        for role in ROLES:
            for scope in SCOPES:
                body = {"name": unique(f"{role}-{scope}"), "role": role}
                if scope == "team":
                    body["team_id"] = self.team["A"]
                self.keys[(role, scope)] = self.stack.create("/api-keys", body)["token"]

    def call(self, key: str, method: str, path: str, body: dict | None = None) -> requests.Response:
        return requests.request(
            method,
            f"{self.stack.api_url}/api/v1{path}",
            json=body,
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )


# Team-owned resources: (path, role to read, role to write, body for team t).
def bodies(w: World):
    return {
        "profiles": ("viewer", "editor", lambda t: {"name": unique("p"), "team_id": w.team[t], "labels": {"env": "x"}}),
        "provider-keys": (
            "viewer",
            "editor",
            lambda t: {"name": unique("pk"), "provider": "anthropic", "secret": "sk-ant-123", "team_id": w.team[t]},
        ),
        "virtual-keys": (
            "viewer",
            "editor",
            lambda t: {
                "name": unique("vk"),
                "team_id": w.team[t],
                "profile_id": w.profile[t],
                "provider_keys": {"openai": w.provider_key[t]},
            },
        ),
        "tool-invocation-policies": (
            "viewer",
            "editor",
            lambda t: {
                "team_id": w.team[t],
                "profile_id": w.profile[t],
                "tool_name": "send_*",
                "conditions": [{"path": "$.to", "operator": "ends_with", "value": "@example.com"}],
                "action": "block_when_context_is_untrusted",
                "reason": "mail stays inside",
            },
        ),
        "trusted-data-policies": (
            "viewer",
            "editor",
            lambda t: {
                "team_id": w.team[t],
                "tool_name": "fetch_url",
                "conditions": [{"path": "$.items[*].url", "operator": "starts_with", "value": "https://intra"}],
                "action": "mark_as_trusted",
            },
        ),
        "limits": (
            "viewer",
            "editor",
            lambda t: {
                "team_id": w.team[t],
                "scope": "profile",
                "subject_id": w.profile[t],
                "metric": "cost_usd",
                "window": "month",
                "max": 100,
            },
        ),
        "api-keys": ("admin", "admin", lambda t: {"name": unique("k"), "role": "viewer", "team_id": w.team[t]}),
    }


@pytest.fixture(scope="module")
def world(stack):
    return World(stack)


def expected_read(read_role, role, scope, owner):
    if RANK[role] < RANK[read_role]:
        return 403
    return 404 if scope == "team" and owner == "B" else 200


def expected_write(write_role, role, scope, owner, *, missing=404):
    if RANK[role] < RANK[write_role]:
        return 403
    return missing if scope == "team" and owner == "B" else None


@pytest.mark.parametrize(
    "path",
    ["profiles", "provider-keys", "virtual-keys", "tool-invocation-policies", "trusted-data-policies", "limits", "api-keys"],
)
def test_team_owned_resources(world, path):
    read_role, write_role, body = bodies(world)[path]
    failures = []

    def expect(what, res, status):
        if res.status_code != status:
            failures.append(f"{what}: expected {status}, got {res.status_code} {res.text[:200]}")
        elif status >= 400 and res.headers.get("content-type") != "application/problem+json":
            failures.append(f"{what}: error without problem+json")

    for role in ROLES:
        for scope in SCOPES:
            key = world.keys[(role, scope)]
            who = f"{role}/{scope}"
            # Create, in each team.
            for owner in "AB":
                res = world.call(key, "POST", f"/{path}", body(owner))
                denied = expected_write(write_role, role, scope, owner, missing=403)
                expect(f"{who} create in {owner}", res, denied or 201)
            # Read, update, delete an object of each team, fresh for this case.
            for owner in "AB":
                obj = world.stack.create(f"/{path}", body(owner))
                res = world.call(key, "GET", f"/{path}/{obj['id']}")
                expect(f"{who} read {owner}", res, expected_read(read_role, role, scope, owner))
                if res.status_code == 200:
                    assert "token" not in res.json() and "secret" not in res.json()
                update = body(owner)
                update.pop("secret", None)
                update.pop("team_id")
                res = world.call(key, "PUT", f"/{path}/{obj['id']}", update)
                expect(f"{who} update {owner}", res, expected_write(write_role, role, scope, owner) or 200)
                res = world.call(key, "DELETE", f"/{path}/{obj['id']}")
                expect(f"{who} delete {owner}", res, expected_write(write_role, role, scope, owner, missing=204) or 204)
                still_there = world.stack.api("GET", f"/{path}/{obj['id']}").status_code == 200
                deleted = res.status_code == 204 and not (scope == "team" and owner == "B")
                if still_there == deleted:
                    failures.append(f"{who} delete {owner}: object still there = {still_there}")
            # List: a team-scoped key sees only team A's objects.
            res = world.call(key, "GET", f"/{path}?limit=500")
            expect(f"{who} list", res, expected_read(read_role, role, scope, "A"))
            if res.status_code == 200 and scope == "team":
                teams = {o["team_id"] for o in res.json()["data"]}
                if teams - {world.team["A"]}:
                    failures.append(f"{who} list shows other teams: {teams}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("path", ["virtual-keys", "api-keys"])
def test_revocation(world, path):
    read_role, write_role, body = bodies(world)[path]
    for role in ROLES:
        for scope in SCOPES:
            for owner in "AB":
                obj = world.stack.create(f"/{path}", body(owner))
                res = world.call(world.keys[(role, scope)], "POST", f"/{path}/{obj['id']}/revoke")
                want = expected_write(write_role, role, scope, owner) or 200
                assert res.status_code == want, (role, scope, owner, res.text)
                if want == 200:
                    assert res.json()["revoked_at"] is not None
    # A revoked API key is refused at once.
    created = world.stack.create("/api-keys", {"name": unique("gone"), "role": "admin"})
    assert world.call(created["token"], "GET", "/teams").status_code == 200
    world.stack.api("POST", f"/api-keys/{created['id']}/revoke")
    res = world.call(created["token"], "GET", "/teams")
    assert res.status_code == 401 and res.headers["content-type"] == "application/problem+json"


def test_organization_wide_resources(world):
    """Teams, the price table and organization settings: every key reads (a team-scoped
    key only its own team); only organization-wide admins change them."""
    seeded = world.stack.api("GET", "/models?provider=openai").json()["data"]
    assert any(m["model"] == "gpt-4o-mini" for m in seeded), "the price table is seeded"
    for role in ROLES:
        for scope in SCOPES:
            key = world.keys[(role, scope)]
            org_admin = role == "admin" and scope == "org"
            assert world.call(key, "GET", "/models").status_code == 200
            assert world.call(key, "GET", "/organization").status_code == 200
            assert world.call(key, "GET", f"/teams/{world.team['A']}").status_code == 200
            assert world.call(key, "GET", f"/teams/{world.team['B']}").status_code == (404 if scope == "team" else 200)
            listed = {t["id"] for t in world.call(key, "GET", "/teams?limit=500").json()["data"]}
            assert (world.team["B"] in listed) == (scope == "org")
            price = {"provider": "openai", "model": unique("m"), "input_price_per_million": 1, "output_price_per_million": 2}
            res = world.call(key, "POST", "/models", price)
            assert res.status_code == (201 if org_admin else 403), (role, scope, res.text)
            res = world.call(key, "POST", "/teams", {"name": unique("t")})
            assert res.status_code == (201 if org_admin else 403), (role, scope, res.text)
            org = world.call(key, "GET", "/organization").json()
            res = world.call(key, "PUT", "/organization", {"name": org["name"], "global_tool_policy": "permissive"})
            assert res.status_code == (200 if org_admin else 403), (role, scope, res.text)
            res = world.call(key, "GET", "/audit-events?limit=500")
            assert res.status_code == (200 if role == "admin" else 403), (role, scope)
            if res.status_code == 200 and scope == "team":
                assert {e["team_id"] for e in res.json()["data"]} <= {world.team["A"]}


def test_optimistic_concurrency_and_idempotent_delete(world):
    created = world.stack.api("POST", "/profiles", {"name": unique("occ")})
    profile = created.json()
    assert created.headers["etag"] == '"1"' and profile["version"] == 1
    path = f"/profiles/{profile['id']}"
    headers = {"Authorization": f"Bearer {ADMIN_KEY}", "If-Match": '"1"'}
    first = requests.put(f"{world.stack.api_url}/api/v1{path}", json={"name": profile["name"], "description": "one"}, headers=headers, timeout=10)
    assert first.status_code == 200 and first.json()["version"] == 2 and first.headers["etag"] == '"2"'
    second = requests.put(f"{world.stack.api_url}/api/v1{path}", json={"name": profile["name"], "description": "two"}, headers=headers, timeout=10)
    assert second.status_code == 412 and second.headers["content-type"] == "application/problem+json"
    assert world.stack.api("GET", path).json()["description"] == "one"
    assert world.stack.api("DELETE", path).status_code == 204
    assert world.stack.api("DELETE", path).status_code == 204
    assert world.stack.api("GET", path).status_code == 404
    events = world.stack.api("GET", f"/audit-events?resource_type=profiles&resource_id={profile['id']}").json()["data"]
    assert [e["action"] for e in events] == ["create", "update", "delete"]
    assert events[1]["before"]["description"] is None and events[1]["after"]["description"] == "one"


def test_invalid_input_names_the_field(world):
    cases = [
        ("/profiles", {"name": ""}, "name"),
        ("/profiles", {"name": unique("p"), "labels": {"bad key": "x"}}, "labels.bad key"),
        ("/tool-invocation-policies", {"tool_name": "x", "action": "block_always", "conditions": [{"path": "to", "operator": "equal", "value": 1}]}, "conditions[0].path"),
        ("/tool-invocation-policies", {"tool_name": "x", "action": "block_always", "conditions": [{"path": "$.a", "operator": "regex", "value": "("}]}, "conditions[0].value"),
        ("/limits", {"scope": "team", "metric": "requests", "window": "day", "max": 0}, "max"),
        ("/provider-keys", {"name": unique("k"), "provider": "openai", "secret": "sk-1", "extra_headers": {"Authorization": "x"}}, "extra_headers.Authorization"),
        ("/virtual-keys", {"name": unique("v"), "profile_id": str(uuid.uuid4())}, "profile_id"),
        ("/profiles", {"name": unique("p"), "team_id": str(uuid.uuid4())}, "team_id"),
    ]
    for path, body, field in cases:
        res = world.stack.api("POST", path, body)
        assert res.status_code == 422, (path, body, res.text)
        assert res.headers["content-type"] == "application/problem+json"
        assert res.json()["invalid_params"][0]["name"] == field, res.text
    # A team-scoped editor cannot reference team B's profile: it reads as missing.
    res = world.call(
        world.keys[("editor", "team")],
        "POST",
        "/virtual-keys",
        {"name": unique("v"), "profile_id": world.profile["B"]},
    )
    assert res.status_code == 422 and "does not exist" in res.text

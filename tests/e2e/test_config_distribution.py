"""Config distribution across replicas: 2 control-plane replicas on one Postgres and 3
data-plane workers (two watching replica A, one replica B).

Changes made through replica A reach every worker within a second; a revoked key is
refused everywhere within a second; workers cut off from the control plane keep serving what
they have cached for the staleness window, refuse what they have not (503), and apply what
they missed within a second of reconnecting; a change whose notification was lost is healed
by the periodic resync."""

import glob
import statistics
import subprocess
import time
import uuid

import pytest
import requests

from conftest import BIN_DIR, Stack, free_port, running

MAX_STALENESS_SECS = 4
RESYNC_SECS = 1
MESSAGES = [{"role": "user", "content": "hi"}]


class Cluster(Stack):
    def start(self) -> None:
        super().start()  # mock, replica A (self.cp), worker 1 (watching A)
        self.cp_b_port = free_port()
        self.cp_b_url = f"http://127.0.0.1:{self.cp_b_port}"
        self.cp_b = self.start_replica_b()
        self.workers = [self.proxy_url]
        for name, cp_url in [("data-plane-2", self.api_url), ("data-plane-3", self.cp_b_url)]:
            port = free_port()
            self.spawn(name, [str(BIN_DIR / "gatehouse-data-plane")], self.data_plane_env(port, cp_url), f"http://127.0.0.1:{port}/readyz")
            self.workers.append(f"http://127.0.0.1:{port}")

    def start_replica_b(self):
        env = self.control_plane_env(GATEHOUSE_API_ADDR=f"127.0.0.1:{self.cp_b_port}")
        return self.spawn("control-plane-b", [str(BIN_DIR / "gatehouse-control-plane")], env, f"{self.cp_b_url}/readyz")

    def data_plane_env(self, port: int, control_plane_url: str) -> dict[str, str]:
        return {
            **super().data_plane_env(port, control_plane_url),
            "GATEHOUSE_MAX_STALENESS": f"{MAX_STALENESS_SECS}s",
            "GATEHOUSE_CONFIG_RESYNC_SECS": str(RESYNC_SECS),
            "GATEHOUSE_PROXY_THREADS": "1",
            "GATEHOUSE_LOG_LEVEL": "info",
        }


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with running(Cluster(tmp_path_factory.mktemp("cluster"))) as c:
        yield c


def status(worker: str, session: requests.Session) -> dict:
    return session.get(f"{worker}/readyz", timeout=2).json()


def chat(worker: str, profile: str, token: str, model: str = "gpt-4o-mini") -> int:
    return requests.post(
        f"{worker}/v1/openai/{profile}/chat/completions",
        json={"model": model, "messages": MESSAGES},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    ).status_code


def wait_until(predicate, timeout: float, step: float = 0.005) -> float:
    """Seconds until `predicate()` held; fails after `timeout`."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout}s")
        time.sleep(step)
    return time.monotonic() - start


def test_changes_through_replica_a_reach_every_worker_within_a_second(cluster):
    session = requests.Session()
    profile = cluster.create("/profiles", {"name": "propagation-" + uuid.uuid4().hex[:8]})
    delays = []
    for i in range(100):
        res = cluster.api("PUT", f"/profiles/{profile['id']}", {"name": profile["name"], "description": f"change {i}"})
        assert res.status_code == 200, res.text
        revision = int(res.headers["x-gatehouse-revision"])
        delays.append(
            wait_until(lambda: all(status(w, session)["revision"] >= revision for w in cluster.workers), timeout=5)
        )
    delays.sort()
    p50, p99 = statistics.median(delays), delays[98]
    print(f"\npropagation to 3 workers over 100 changes: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, max {delays[-1] * 1000:.1f} ms")
    assert p99 < 1.0


def test_a_revoked_key_is_refused_by_every_worker_within_a_second(cluster):
    profile = cluster.create("/profiles", {"name": "revoke-" + uuid.uuid4().hex[:8]})
    key = cluster.create("/provider-keys", {"name": "revoke-" + uuid.uuid4().hex[:8], "provider": "openai", "secret": "sk-r"})
    vk = cluster.create("/virtual-keys", {"name": "v", "profile_id": profile["id"], "provider_keys": {"openai": key["id"]}})
    for worker in cluster.workers:
        assert chat(worker, profile["id"], vk["token"]) == 200
    assert cluster.api("POST", f"/virtual-keys/{vk['id']}/revoke").status_code == 200
    for worker in cluster.workers:
        # The clock started at the revoke: later workers have had the earlier ones' time too.
        wait_until(lambda: chat(worker, profile["id"], vk["token"]) == 401, timeout=1.0, step=0.02)


def test_cut_off_workers_serve_their_cache_for_the_staleness_window_and_catch_up(cluster):
    session = requests.Session()
    cached = cluster.create("/profiles", {"name": "cached-" + uuid.uuid4().hex[:8]})
    uncached = cluster.create("/profiles", {"name": "uncached-" + uuid.uuid4().hex[:8]})
    key = cluster.create("/provider-keys", {"name": "cut-" + uuid.uuid4().hex[:8], "provider": "openai", "secret": "sk-c"})
    vk = cluster.create("/virtual-keys", {"name": "v", "profile_id": cached["id"], "provider_keys": {"openai": key["id"]}})
    for worker in cluster.workers:
        assert chat(worker, cached["id"], vk["token"]) == 200
    worker3 = cluster.workers[2]

    # Replica B goes away: worker 3 is cut off while a change is made through replica A.
    cluster.cp_b.terminate()
    cluster.cp_b.wait(timeout=10)
    assert cluster.api("POST", f"/virtual-keys/{vk['id']}/revoke").status_code == 200
    time.sleep(0.5)
    assert chat(worker3, cached["id"], vk["token"]) == 200, "cut off, it serves what it has cached"
    cluster.cp_b = cluster.start_replica_b()
    wait_until(lambda: status(worker3, session)["watch_live"], timeout=5, step=0.01)
    reconnected = time.monotonic()
    wait_until(lambda: chat(worker3, cached["id"], vk["token"]) == 401, timeout=1.0, step=0.02)
    print(f"\nmissed change applied {time.monotonic() - reconnected:.3f} s after reconnecting")

    # Both replicas away: cached config serves until the staleness bound, nothing else does.
    token = "sk-passthrough-" + uuid.uuid4().hex
    for worker in cluster.workers:
        assert chat(worker, cached["id"], token) == 200
    cluster.cp.terminate()
    cluster.cp_b.terminate()
    cluster.cp.wait(timeout=10)
    cluster.cp_b.wait(timeout=10)
    stopped = time.monotonic()
    try:
        for worker in cluster.workers:
            assert chat(worker, cached["id"], token) == 200
            assert chat(worker, uncached["id"], token) == 503
        time.sleep(max(0.0, MAX_STALENESS_SECS + 0.5 - (time.monotonic() - stopped)))
        for worker in cluster.workers:
            assert chat(worker, cached["id"], token) == 503, "past the staleness bound nothing is served"
            reported = status(worker, session)
            assert reported["staleness_secs"] > MAX_STALENESS_SECS and not reported["watch_live"]
    finally:
        cluster.start_control_plane()
        cluster.cp_b = cluster.start_replica_b()
    for worker in cluster.workers:
        wait_until(lambda: chat(worker, cached["id"], token) == 200, timeout=5, step=0.05)


def test_a_change_whose_notification_was_lost_is_healed_by_resync(cluster):
    profile = cluster.create("/profiles", {"name": "lost-" + uuid.uuid4().hex[:8]})
    token = "sk-passthrough-" + uuid.uuid4().hex
    for worker in cluster.workers:
        assert chat(worker, profile["id"], token) == 200
    psql = sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))[-1]
    # The change and its log entry, committed without the NOTIFY the API would send.
    sql = f"""
        BEGIN;
        UPDATE profiles SET require_virtual_key = true WHERE id = '{profile['id']}';
        WITH r AS (UPDATE config_revision SET revision = revision + 1 WHERE id = 1 RETURNING revision)
        INSERT INTO config_changes (revision, kind, object_id) SELECT revision, 'profile', '{profile['id']}' FROM r;
        COMMIT;
    """
    subprocess.run([psql, cluster.cp_env["GATEHOUSE_DATABASE_URL"], "-q", "-c", sql], check=True, capture_output=True)
    for worker in cluster.workers:
        wait_until(lambda: chat(worker, profile["id"], token) == 401, timeout=RESYNC_SECS + 1.0, step=0.05)

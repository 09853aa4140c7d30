"""Scale-down without cut streams: a data-plane worker with 50 open streams gets SIGTERM;
it refuses new connections at once, lets all 50 streams finish intact, and exits within
its grace period (the chart's terminationGracePeriodSeconds is built on the same value)."""

import signal
import socket
import threading
import time
import uuid

import httpx

from conftest import BIN_DIR, free_port

STREAMS = 50
CHUNKS = 30
DELAY_MS = 100  # each stream lasts about 3 s
GRACE_SECS = 20


def test_sigterm_drains_open_streams(stack):
    port = free_port()
    env = {**stack.data_plane_env(port, stack.api_url), "GATEHOUSE_SHUTDOWN_GRACE_SECS": str(GRACE_SECS)}
    proc = stack.spawn("data-plane-drain", [str(BIN_DIR / "gatehouse-data-plane")], env,
                       f"http://127.0.0.1:{port}/readyz")
    profile = stack.create("/profiles", {"name": "drain-" + uuid.uuid4().hex[:8]})
    key = stack.create("/provider-keys", {"name": "drain-" + uuid.uuid4().hex[:8], "provider": "openai",
                                          "secret": "sk-drain"})
    vk = stack.create("/virtual-keys", {"name": "drain", "profile_id": profile["id"],
                                        "provider_keys": {"openai": key["id"]}})
    url = f"http://127.0.0.1:{port}/v1/openai/{profile['id']}/chat/completions"
    started = threading.Barrier(STREAMS + 1, timeout=30)
    results: list[tuple[str, int]] = [("", 0)] * STREAMS

    def stream(i: int) -> None:
        body = {"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
        headers = {"Authorization": f"Bearer {vk['token']}", "x-mock-chunks": str(CHUNKS),
                   "x-mock-chunk-delay-ms": str(DELAY_MS)}
        text, chunks, first = [], 0, True
        try:
            with httpx.stream("POST", url, json=body, headers=headers, timeout=GRACE_SECS * 2) as res:
                for line in res.iter_lines():
                    if first:
                        first = False
                        started.wait()
                    if line.startswith("data: "):
                        chunks += 1
                        text.append(line[6:])
        except Exception as e:  # noqa: BLE001 — the assertion below reports it
            text.append(f"ERROR {e!r}")
            if first:
                started.abort()
        results[i] = ("\n".join(text), chunks)

    threads = [threading.Thread(target=stream, args=(i,)) for i in range(STREAMS)]
    for t in threads:
        t.start()
    started.wait()  # every stream has its first bytes
    sigterm_at = time.monotonic()
    proc.send_signal(signal.SIGTERM)

    # New connections are refused while the open streams drain.
    time.sleep(0.3)
    refused = False
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        refused = True
    assert refused, "the worker still accepts connections after SIGTERM"
    assert proc.poll() is None, "the worker must wait for its open streams"

    for t in threads:
        t.join(timeout=GRACE_SECS + 10)
    for i, (text, chunks) in enumerate(results):
        assert "ERROR" not in text, f"stream {i}: {text[-300:]}"
        assert text.endswith("[DONE]"), f"stream {i} was cut: {text[-200:]}"
        # role chunk + CHUNKS content chunks + finish chunk + [DONE]
        assert chunks == CHUNKS + 3, (i, chunks)
    proc.wait(timeout=GRACE_SECS + 5)
    elapsed = time.monotonic() - sigterm_at
    assert proc.returncode == 0, proc.returncode
    print(f"\nall {STREAMS} streams finished; the worker exited {elapsed:.1f} s after SIGTERM")
    assert elapsed < GRACE_SECS, f"exited {elapsed:.1f} s after SIGTERM; the grace period is {GRACE_SECS} s"

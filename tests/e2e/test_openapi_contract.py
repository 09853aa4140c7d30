"""The committed OpenAPI document is valid OpenAPI 3.1, and the live control plane (over
real Postgres) honours it: a schema-driven fuzz run (schemathesis) with a bounded number of
examples finds no 5xx and no response that the document does not describe."""

import os
import subprocess
import sys
from pathlib import Path

from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

from conftest import ADMIN_KEY, ROOT

DOCUMENT = ROOT / "openapi" / "openapi.json"
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)


def test_document_is_valid_openapi_3_1():
    spec, _ = read_from_filename(str(DOCUMENT))
    assert spec["openapi"].startswith("3.1")
    validate(spec)
    for path, item in spec["paths"].items():
        for method, op in item.items():
            assert op.get("security"), f"{method} {path} documents no security requirement"
            assert op.get("summary") or op.get("description"), f"{method} {path} is undocumented"


def test_schemathesis_finds_no_server_errors_or_contract_violations(stack, tmp_path):
    schemathesis = Path(sys.executable).parent / "schemathesis"
    proc = subprocess.run(
        [
            str(schemathesis),
            "run",
            str(DOCUMENT),
            "--url",
            stack.api_url,
            "--header",
            f"Authorization: Bearer {ADMIN_KEY}",
            "--checks",
            CHECKS,
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            os.environ.get("GATEHOUSE_SCHEMATHESIS_EXAMPLES", "10"),
            "--seed",
            "20261122",
            "--workers",
            "2",
            "--no-color",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-8000:]
    assert ADMIN_KEY not in output.replace(f"Bearer {ADMIN_KEY}", "")

"""Schemathesis against /schema: every /api/v1 operation, generated and mutated requests with a
valid key, against a real `trustdesk run` on the suite's database. No 5xx; every response matches
the documented schema (status code, content type, body, headers)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks as st_checks
from schemathesis.generation import GenerationMode

from tests.support.factories import make_user
from trustdesk.core.actors import Actor
from trustdesk.partners import services

ROOT = Path(__file__).resolve().parents[2]
COUNTS: dict[str, int] = {}
EXAMPLES = int(os.environ.get("TRUSTDESK_SCHEMATHESIS_EXAMPLES", "50"))


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`trustdesk run` in a subprocess, sharing this suite's database (SQLite file or PostgreSQL)."""
    import time

    tmp = tmp_path_factory.mktemp("schemathesis")
    port = _free_port()
    env = {**os.environ, "TRUSTDESK_PORT": str(port), "TRUSTDESK_HOST": "127.0.0.1",
           "TRUSTDESK_API_RATE_LIMIT": "1000000", "TRUSTDESK_DATA_DIR": str(tmp / "data")}
    env.pop("_TRUSTDESK_TEST_ENV_READY", None)
    log = open(tmp / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "trustdesk.cli", "run", "--no-demo",
                             "--log-level", "warning"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError((tmp / "server.log").read_text()[-3000:])
        try:
            httpx.get(url + "/healthz", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.3)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
    total = sum(COUNTS.values())
    print(f"\nschemathesis: {total} cases over {len(COUNTS)} operations: "
          + ", ".join(f"{k}={v}" for k, v in sorted(COUNTS.items())))
    server_errors = [line for line in (tmp / "server.log").read_text().splitlines()
                     if "unhandled error" in line]
    assert not server_errors, server_errors[:5]


@pytest.fixture
async def api_key() -> str:
    seller = await make_user("seller", store_name="Fuzz Store")
    _, raw = await services.create_api_key(seller.id, name="fuzz", actor=Actor.system("cli"))
    return raw


CHECKS = [st_checks.not_a_server_error, st_checks.status_code_conformance,
          st_checks.content_type_conformance, st_checks.response_schema_conformance,
          st_checks.response_headers_conformance]


def _operations(url: str) -> list[Any]:
    schema = schemathesis.openapi.from_url(f"{url}/schema/openapi.json").include(
        path_regex="^/api/v1/")
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
async def test_every_api_operation_conforms_to_the_schema(api_server: str, api_key: str,
                                                          mode: GenerationMode) -> None:
    """Positive (valid) and negative (mutated) requests for every /api/v1 operation."""
    import asyncio

    operations = _operations(api_server)
    assert len(operations) >= 14, [f"{o.method} {o.path}" for o in operations]
    headers = {"Authorization": f"Bearer {api_key}"}

    def run(operation: Any) -> None:
        label = f"{operation.method.upper()} {operation.path}"

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            COUNTS[label] = COUNTS.get(label, 0) + 1
            case.call_and_validate(base_url=api_server, headers=headers, checks=CHECKS, timeout=30)

        check()

    for operation in operations:
        await asyncio.to_thread(run, operation)

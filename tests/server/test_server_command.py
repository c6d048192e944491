"""``legato server`` and ``legato tokens`` as a user runs them: real subprocesses."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

LEGATO = str(Path(sys.executable).with_name("legato"))


def legato(*args: str, db: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LEGATO, *args, "--db", db], capture_output=True, text=True, timeout=60)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(db: str, *args: str) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    process = subprocess.Popen(
        [LEGATO, "server", "--port", str(port), "--db", db, *args],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent)},
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        try:
            httpx.get(f"{base}/healthz", timeout=1)
            return process, base
        except httpx.TransportError:
            assert time.monotonic() < deadline, "legato server did not answer in 30 s"
            time.sleep(0.1)


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    return stderr


def test_without_tokens_it_serves_loopback_only_and_says_so(tmp_path):
    db = f"sqlite:///{tmp_path / 'legato.db'}"
    process, base = serve(db)
    try:
        started = httpx.post(
            f"{base}/api/v1/runs", json={"target": "api_flows:greet", "params": {"name": "z"}}
        )
        assert started.status_code == 201
        runs = httpx.get(f"{base}/api/v1/runs").json()["runs"]
        assert [r["run_id"] for r in runs] == [started.json()["run_id"]]
    finally:
        stderr = stop(process)
    assert "No tokens exist: serving without authentication" in stderr
    refused = legato("server", "--host", "0.0.0.0", db=db)
    assert refused.returncode == 2
    assert "refusing to serve on 0.0.0.0 without tokens" in refused.stderr
    assert "legato tokens create --name admin --role admin" in refused.stderr


def test_a_created_token_is_printed_once_and_then_required(tmp_path):
    db = f"sqlite:///{tmp_path / 'legato.db'}"
    created = legato("tokens", "create", "--name", "ci", "--role", "viewer", db=db)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("lgt_") and "shown only now" in created.stderr
    listed = legato("tokens", "list", db=db)
    assert "ci" in listed.stdout and "viewer" in listed.stdout and token not in listed.stdout
    assert token not in (tmp_path / "legato.db").read_bytes().decode("latin-1")
    process, base = serve(db)
    try:
        assert httpx.get(f"{base}/api/v1/runs").status_code == 401
        auth = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{base}/api/v1/runs", headers=auth).status_code == 200
        start = httpx.post(f"{base}/api/v1/runs", json={"target": "x:y"}, headers=auth)
        assert start.status_code == 403
        assert legato("tokens", "revoke", "ci", db=db).returncode == 0
        assert httpx.get(f"{base}/api/v1/runs", headers=auth).status_code == 401
    finally:
        stderr = stop(process)
    assert "No tokens exist" not in stderr
    again = legato("tokens", "revoke", "ci", db=db)
    assert again.returncode == 2 and "no token named 'ci'" in again.stderr

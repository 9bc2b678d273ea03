"""`manage.py runclinic` (what `make run` starts) serves the site, and Ctrl-C stops every process."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(pid: int) -> set[int]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout
    children: dict[int, list[int]] = {}
    for line in out.splitlines():
        p, pp = map(int, line.split())
        children.setdefault(pp, []).append(p)
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")


def test_ctrl_c_stops_the_web_server_and_the_worker(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env["SMP_VAR_DIR"] = str(tmp_path)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=BASE_DIR, env=env, check=True, timeout=120)
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "runclinic", "--addr", f"127.0.0.1:{port}"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    status = response.status
                    break
            except OSError:
                time.sleep(0.5)
        assert status == 200
        started = descendants(proc.pid)
        assert len(started) >= 2  # web server and Celery worker (with its pool and beat)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        time.sleep(0.5)
        assert [pid for pid in started if alive(pid)] == []
    finally:
        if proc.poll() is None:
            proc.kill()
        output = proc.stdout.read() if proc.stdout else ""
    assert "Demo staff login" in output


def test_message_links_point_at_the_address_the_clinic_runs_on(monkeypatch):
    from smpclinic.management.commands.runclinic import child_env

    monkeypatch.delenv("SITE_URL", raising=False)
    assert child_env("127.0.0.1:8100")["SITE_URL"] == "http://127.0.0.1:8100"
    monkeypatch.setenv("SITE_URL", "https://clinic.example.com")
    assert child_env("127.0.0.1:8100")["SITE_URL"] == "https://clinic.example.com"


def test_an_empty_site_url_as_in_env_example_follows_the_address(monkeypatch):
    """A .env copied from .env.example leaves SITE_URL empty; the settings read it into this
    process's environment, and it must not pin the links to port 8000."""
    from smpclinic.management.commands.runclinic import child_env

    monkeypatch.setenv("SITE_URL", "")
    assert child_env("127.0.0.1:8100")["SITE_URL"] == "http://127.0.0.1:8100"
    example = (BASE_DIR / ".env.example").read_text()
    assert re.search(r"^SITE_URL=\s*$", example, re.MULTILINE), "SITE_URL in .env.example must be empty"


def test_without_a_stripe_key_the_stub_listens_where_the_clinic_calls_it(settings):
    from smpclinic.management.commands.runclinic import stub_address

    settings.PAYMENTS_STUB = True
    env: dict[str, str] = {}
    host, port = stub_address(env)
    assert env["STRIPE_API_BASE"] == f"http://{host}:{port}"
    assert stub_address({"STRIPE_API_BASE": "http://127.0.0.1:8765"}) == ("127.0.0.1", 8765)
    settings.PAYMENTS_STUB = False
    assert stub_address({}) is None

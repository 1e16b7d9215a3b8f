"""deploy/systemd/omniwatch.service: systemd-analyze finds nothing to say about it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.deploy.files import DEPLOY
from tests.support import require

UNIT = DEPLOY / "systemd" / "omniwatch.service"


def test_systemd_analyze_verify_is_silent(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    require(analyze is not None, "systemd-analyze not installed (Debian package systemd)")
    assert analyze is not None
    # verify checks that ExecStart's program exists: point it at this checkout's omniwatch.
    omniwatch = Path(sys.executable).with_name("omniwatch")
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text("utf-8").replace("/usr/local/bin/omniwatch", str(omniwatch)))
    done = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True,
                          timeout=60, check=False)
    # Unknown keys and bad values are only warnings (exit 0): any output is a failure.
    assert done.returncode == 0
    assert done.stdout + done.stderr == ""


def test_unit_is_hardened_and_validates_before_it_starts() -> None:
    lines = set(UNIT.read_text("utf-8").splitlines())
    for setting in ("User=omniwatch", "NoNewPrivileges=true", "ProtectSystem=strict",
                    "ProtectHome=true", "PrivateTmp=true", "CapabilityBoundingSet=",
                    "StateDirectory=omniwatch", "RestartPreventExitStatus=2",
                    "ExecReload=/bin/kill -HUP $MAINPID"):
        assert setting in lines, setting
    assert ("ExecStartPre=/usr/local/bin/omniwatch config validate "
            "/etc/omniwatch/omniwatch.yaml") in lines

"""Issue 8, "Messages that help": the probe command's errors name what is wrong."""

from __future__ import annotations

from pathlib import Path

from tests.cli.test_secrets import closed_port, omniwatch


def test_a_missing_ca_file_is_named_and_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    out = omniwatch("probe", "--ca-file", str(missing), "https://127.0.0.1:9/")
    assert out.returncode == 2
    assert out.stderr.strip() == f"omniwatch probe: --ca-file: file '{missing}' does not exist"
    assert out.stdout == ""


def test_an_unknown_target_lists_the_known_ones(tmp_path: Path) -> None:
    cfg = tmp_path / "omniwatch.yaml"
    cfg.write_text("""
channels:
  app:
    targets:
      - {name: app-web, probe: tcp, host: 127.0.0.1, port: 9}
      - {name: app-api, probe: tcp, host: 127.0.0.1, port: 9}
""")
    out = omniwatch("probe", "-c", str(cfg), "--target", "nosuch")
    assert out.returncode == 2
    assert f"unknown target 'nosuch' in {cfg} (known: app-api, app-web)" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_tcp_refusal_names_the_address() -> None:
    port = closed_port()
    out = omniwatch("probe", f"tcp://127.0.0.1:{port}")
    assert out.returncode == 1
    assert f"connection to 127.0.0.1:{port} refused" in out.stdout

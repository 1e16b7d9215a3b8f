"""The ``omniwatch`` command line: :mod:`.parser` declares every command, :mod:`.main`
dispatches, and one module per command family (``probe``, ``run``, ``slo`` for
slo/report/rules, ``consistency``, ``config``, ``demo``) does the work."""

from monitor.cli.main import main

__all__ = ["main"]

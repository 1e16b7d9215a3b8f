"""omniwatch: service-reliability and cross-channel consistency monitoring.

One package per stage of the data flow: ``config`` → ``runtime`` (with ``probes``) →
``metrics`` and ``store`` → ``slo``; ``consistency`` beside them; ``server`` and ``cli``
show it all.  ``logs``, ``tables``, ``redact`` (what of a DSN or URL may be shown) and
``conninfo`` (libpq's connection-string grammar) are small helpers every stage shares.
"""

__version__ = "0.1.0"

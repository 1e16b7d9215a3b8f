"""omniwatch: service-reliability and cross-channel consistency monitoring.

One package per stage of the data flow: ``config`` → ``runtime`` (with ``probes``) →
``metrics`` and ``store`` → ``slo``; ``consistency`` beside them; ``server`` and ``cli``
show it all.  ``logs`` and ``tables`` are the two small helpers every stage shares.
"""

__version__ = "0.1.0"

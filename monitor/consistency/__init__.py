"""Cross-channel customer-record consistency: is every channel showing the same data?

Sources stream customer records sorted by key; normalisers make equivalent values equal;
a k-way merge compares every channel with the reference in one pass and constant memory
(``full``), SQL sources can checksum hash segments inside the database (``checksum``),
and ``sample`` estimates the ratio from random reference keys.  See docs/consistency.md.

The typed :class:`ConsistencyConfig` is built by :mod:`monitor.config.consistency` from the
``consistency:`` section; this package never reads configuration files itself.  The API::

    from monitor.consistency.run import run_check       # one report per channel
    from monitor.consistency.report import report_to_dict
    from monitor.consistency.jobs import check_now, schedule_loop   # logged, with history

Nothing is re-exported here: the configuration layer imports :mod:`.model`, and must not
load the engine, its sources and their drivers to do so.
"""

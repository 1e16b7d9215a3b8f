"""Cross-channel customer-record consistency: is every channel showing the same data?

Sources stream customer records sorted by key; normalisers make equivalent values equal;
a k-way merge compares every channel with the reference in one pass and constant memory
(``full``), SQL sources can checksum hash segments inside the database (``checksum``),
and ``sample`` estimates the ratio from random reference keys.  See docs/consistency.md.

Public API::

    config = build_consistency(raw_section, file, base_dir)     # ConfigError on problems
    reports = run_check(config, mode="full", channels=None, now=None, since=None)
    report_to_dict(reports[0])                                   # for --json
"""

from monitor.consistency.config import build_consistency, consistency_schema
from monitor.consistency.errors import (
    ConsistencyError,
    InvalidValue,
    KeyOrderError,
    SourceError,
)
from monitor.consistency.model import (
    ConsistencyConfig,
    ConsistencyReport,
    FieldDiff,
    FieldRule,
    KeySample,
    Outcome,
    SourceConfig,
    SourceRecord,
)
from monitor.consistency.report import mask, report_to_dict, wilson_interval
from monitor.consistency.run import MODES, run_check

__all__ = [
    "MODES",
    "ConsistencyConfig",
    "ConsistencyError",
    "ConsistencyReport",
    "FieldDiff",
    "FieldRule",
    "InvalidValue",
    "KeyOrderError",
    "KeySample",
    "Outcome",
    "SourceConfig",
    "SourceError",
    "SourceRecord",
    "build_consistency",
    "consistency_schema",
    "mask",
    "report_to_dict",
    "run_check",
    "wilson_interval",
]

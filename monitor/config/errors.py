"""What a configuration that cannot be loaded reports: every problem, with file and path."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One thing wrong with a configuration file: the file, where in it, and what.

    ``path`` is ``channels.app.targets[2].url``, ``(top level)``, ``line 3, column 5`` for
    YAML syntax, or empty when the problem is the file itself (missing, not UTF-8).
    """

    file: str
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}" if self.path else self.file
        return f"{where}: {self.message}"


class ConfigError(Exception):
    """A configuration could not be loaded; ``problems`` lists every reason, sorted by path."""

    def __init__(self, problems: Iterable[ConfigProblem]) -> None:
        self.problems = tuple(sorted(set(problems), key=_problem_order))
        super().__init__("\n".join(str(p) for p in self.problems))


def _problem_order(p: ConfigProblem) -> tuple[Any, ...]:
    # Natural order, so targets[2] comes before targets[10].
    parts = re.split(r"(\d+)", p.path)
    return tuple((0, int(s), "") if i % 2 else (1, 0, s) for i, s in enumerate(parts)), p.message

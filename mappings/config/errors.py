"""What the admin is told when leadq.yaml is wrong: every problem, with its line, key path and fix."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem in a config file.

    `line` and `column` are 1-based and None when the problem has no place in the file (e.g. it is empty).
    """

    source: str
    path: str
    message: str
    fix: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}:{self.column or 1}"
        key = f" {self.path}:" if self.path else ":"
        return f"{where}{key} {self.message} — {self.fix}"


class ConfigError(Exception):
    """leadq.yaml cannot be used; `issues` lists every problem found, in file order."""

    def __init__(self, issues: Iterable[ConfigIssue]) -> None:
        ordered = sorted(set(issues), key=lambda i: (i.line or 0, i.column or 0, i.path, i.message))
        self.issues: list[ConfigIssue] = ordered
        super().__init__(self.__str__())

    def __str__(self) -> str:
        if len(self.issues) == 1:
            return str(self.issues[0])
        source = self.issues[0].source if self.issues else "config"
        lines = [f"{source} has {len(self.issues)} problems:"]
        lines += [f"  {issue}" for issue in self.issues]
        return "\n".join(lines)

"""Validation of an event export, line by line and across lines, before anything is written.

A file is imported only if every line is a valid event and the lines together form a log
the store could have written: positions 1, 2, 3... in file order, unique event ids, each
stream's versions 1, 2, 3... in order, and each commit (``commit_id``) one run of
consecutive lines of one stream sharing its idempotency key and recorded-at time.

The file is read twice (validate, then write) rather than held in memory, so a log of
millions of events needs only the sets of ids and keys seen.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from infrastructure.events_io.lines import EventLine, LineError, parse_line

MAX_REPORTED = 50


@dataclass(frozen=True, slots=True)
class Problem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class ValidationReport:
    lines: int = 0
    events: int = 0
    commits: int = 0
    streams: int = 0
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0

    @property
    def valid(self) -> bool:
        return self.problem_count == 0

    def add(self, line: int, message: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_REPORTED:
            self.problems.append(Problem(line, message))


def numbered_lines(path: Path) -> Iterator[tuple[int, str | None]]:
    """(line number, text) for every line; text None when it is not UTF-8."""
    with path.open("rb") as source:
        for number, raw in enumerate(source, start=1):
            try:
                yield number, raw.decode("utf-8")
            except UnicodeDecodeError:
                yield number, None


class LogRules:
    """The cross-line rules. After a violation it resynchronises on the offending line, so
    one bad spot is reported once, not again on every line after it."""

    def __init__(self) -> None:
        self.next_position = 1
        self.ids: set[str] = set()
        self.stream_heads: dict[str, int] = {}
        self.commit_ids: set[str] = set()
        self.idempotency_keys: set[str] = set()
        self.commit: EventLine | None = None  # first line of the commit being read

    def check(self, line: EventLine) -> list[str]:
        problems: list[str] = []
        if line.position != self.next_position:
            problems.append(f"position {line.position}, expected {self.next_position}")
        self.next_position = line.position + 1
        if line.id in self.ids:
            problems.append(f"event id {line.id} appears twice")
        self.ids.add(line.id)
        head = self.stream_heads.get(line.stream_key, 0)
        if line.version != head + 1:
            stream, version = line.stream_key, line.version
            problems.append(f"stream {stream}: version {version}, expected {head + 1}")
        self.stream_heads[line.stream_key] = line.version
        problems += self._check_commit(line)
        return problems

    def _check_commit(self, line: EventLine) -> list[str]:
        current = self.commit
        if current is not None and line.commit_id == current.commit_id:
            same = (
                line.stream_key == current.stream_key
                and line.idempotency_key == current.idempotency_key
                and line.recorded_at == current.recorded_at
            )
            if not same:
                return [
                    f"commit {line.commit_id}: its events must share stream, "
                    "idempotency_key and recorded_at"
                ]
            return []
        self.commit = line
        problems = []
        if line.commit_id in self.commit_ids:
            problems.append(f"commit {line.commit_id} is split (its lines must be consecutive)")
        if line.idempotency_key in self.idempotency_keys:
            problems.append(f"idempotency_key {line.idempotency_key!r} is used by two commits")
        self.commit_ids.add(line.commit_id)
        self.idempotency_keys.add(line.idempotency_key)
        return problems


def validate_file(path: Path) -> ValidationReport:
    report = ValidationReport()
    rules = LogRules()
    for number, text in numbered_lines(path):
        report.lines = number
        if text is None:
            report.add(number, "not UTF-8 text")
            rules.next_position += 1  # it held a position: do not blame the next line
            continue
        if not text.strip():
            report.add(number, "empty line")
            continue
        try:
            line = parse_line(text)
        except LineError as err:
            report.add(number, str(err))
            rules.next_position += 1
            continue
        for problem in rules.check(line):
            report.add(number, problem)
        report.events += 1
    report.commits = len(rules.commit_ids)
    report.streams = len(rules.stream_heads)
    return report


def commits_in(path: Path) -> Iterator[list[EventLine]]:
    """The events of a validated file grouped by commit, in order (second pass)."""
    commit: list[EventLine] = []
    for number, text in numbered_lines(path):
        if text is None:
            raise LineError(f"line {number}: not UTF-8 text (the file changed since validation)")
        try:
            line = parse_line(text)
        except LineError as err:
            raise LineError(f"line {number}: {err} (the file changed since validation)") from None
        if commit and line.commit_id != commit[0].commit_id:
            yield commit
            commit = []
        commit.append(line)
    if commit:
        yield commit

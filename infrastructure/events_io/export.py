"""``pulse events export``: the event log as JSON Lines, in position order.

The export is a consistent prefix of the log: it covers every commit up to the head seen
when it starts (positions are gap-free, so nothing before the head can still be missing),
and commits appended while it runs are left for the next export. It can therefore run
while Pulse is serving.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, TextIO

from pymongo.asynchronous.database import AsyncDatabase

from infrastructure.events_io.commits import head_position, stored_commits
from infrastructure.events_io.lines import to_json


@dataclass
class ExportReport:
    events: int = 0
    commits: int = 0
    head: int = 0
    streams: set[str] = field(default_factory=set)
    sha256: str = ""

    def summary(self) -> str:
        return (
            f"exported {self.events} events in {self.commits} commits "
            f"({len(self.streams)} streams), positions 1..{self.head}; sha256 {self.sha256}"
        )


async def export_events(db: AsyncDatabase[Any], out: TextIO) -> ExportReport:
    """Write every event up to the current head to ``out``, one JSON object per line."""
    report = ExportReport(head=await head_position(db))
    digest = hashlib.sha256()
    async for commit in stored_commits(db, report.head):
        report.commits += 1
        report.streams.add(commit[0].stream_key)
        for line in commit:
            text = to_json(line) + "\n"
            digest.update(text.encode())
            out.write(text)
            report.events += 1
    report.sha256 = digest.hexdigest()
    return report

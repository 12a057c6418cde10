"""Backup and restore of the event log: ``pulse events export`` / ``pulse events import``.

The event log is the source of truth: every read model is a fold of it (``pulse rebuild``,
``pulse check``). An export is JSON Lines, one event per line with its whole envelope
(``lines.py``); an import validates the whole file, refuses any target that is not empty,
and appends the commits at their original positions and versions with their original
idempotency keys (``importer.py``). See docs/BACKUP.md.
"""

from infrastructure.events_io.export import ExportReport, export_events
from infrastructure.events_io.importer import (
    ImportConflict,
    ImportRefused,
    ImportReport,
    InvalidFile,
    import_events,
)
from infrastructure.events_io.lines import EventLine, LineError, parse_line, to_json
from infrastructure.events_io.validation import Problem, ValidationReport, validate_file

__all__ = [
    "EventLine",
    "ExportReport",
    "ImportConflict",
    "ImportRefused",
    "ImportReport",
    "InvalidFile",
    "LineError",
    "Problem",
    "ValidationReport",
    "export_events",
    "import_events",
    "parse_line",
    "to_json",
    "validate_file",
]

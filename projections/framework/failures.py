"""What to do when a batch fails: narrow it down to the poison event, retry, or pause.

Pure (no I/O), so the policy is unit-tested on its own. The runner asks ``plan`` which part
of a fresh read to process, and reports each outcome with ``succeeded`` or ``failed``:

* An error in ``apply`` names its event. Handled events before it are committed first (no
  delay, not counted as a retry), then the event is retried alone.
* Any other error (``flush``, a unique index, the checkpoint write) names no event, so the
  batch's range is then replayed one handled event at a time until the culprit is alone.
* A poison event alone fails ``retries`` more times with exponential backoff, then the
  projection pauses with that event recorded, for ``resume`` (retry) or ``skip``.
* Connection failures are not the events' fault: retried forever (capped backoff), and the
  projection shows FAILED meanwhile instead of pausing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pymongo.errors import ConnectionFailure

from domain.events import RecordedEvent
from projections.framework.checkpoints import ErrorInfo
from projections.framework.config import RunnerConfig

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (ConnectionFailure, ConnectionError)


class ApplyError(Exception):
    """A projection's ``apply`` raised on ``event``."""

    def __init__(self, event: RecordedEvent, cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.event = event
        self.cause = cause


@dataclass(frozen=True, slots=True)
class Verdict:
    pause: bool
    delay: float
    transient: bool
    attempts: int
    poison: RecordedEvent | None


def error_info(err: BaseException, verdict: Verdict) -> ErrorInfo:
    """What operators see about a failure (the event, when the policy could pin one)."""
    message = str(err) if isinstance(err, ApplyError) else f"{type(err).__name__}: {err}"
    poison = verdict.poison
    if poison is None:
        return ErrorInfo(message, attempts=verdict.attempts)
    return ErrorInfo(message, poison.position, poison.id, poison.type, verdict.attempts)


class FailurePolicy:
    def __init__(self, handles: frozenset[str], config: RunnerConfig) -> None:
        self._handles = handles
        self._config = config
        self.attempts = 0
        self._stop_before: int | None = None
        self._isolate_until = 0
        self.skips: set[int] = set()
        """Positions skipped by an operator: not applied again when the worker folds them
        a second time (from where its stored records end, ``RunnerConfig.records_later``)."""

    @property
    def recovering(self) -> bool:
        """A failed event is not behind yet: every batch until it is must leave nothing for
        later, or each reload would fold the same good events again before it, and their
        commit would count the failing event's attempts from zero each time."""
        return self._stop_before is not None or self.attempts > 0

    def _handled(self, event: RecordedEvent) -> bool:
        return event.type in self._handles

    def plan(self, batch: Sequence[RecordedEvent]) -> list[RecordedEvent]:
        """The part of ``batch`` (a fresh read after the checkpoint) to process now."""
        if not batch:
            return []
        if self._stop_before is not None:
            before = [e for e in batch if e.position < self._stop_before]
            if any(self._handled(e) for e in before):
                return before
            return [e for e in batch if e.position <= self._stop_before]
        if batch[0].position <= self._isolate_until:
            planned: list[RecordedEvent] = []
            for event in batch:
                planned.append(event)
                if self._handled(event):
                    break
            return planned
        return list(batch)

    def succeeded(self, position: int) -> None:
        self.attempts = 0
        if self._stop_before is not None and position >= self._stop_before:
            self._stop_before = None

    def resumed(self) -> None:
        """An operator asked to retry: a fresh round of attempts on the same event."""
        self.attempts = 0

    def skipped(self, position: int) -> None:
        self.skips.add(position)
        self.succeeded(position)

    def failed(self, planned: Sequence[RecordedEvent], error: BaseException) -> Verdict:
        self.attempts += 1
        if isinstance(error, TRANSIENT_ERRORS):
            return Verdict(False, self._config.backoff(self.attempts), True, self.attempts, None)
        if isinstance(error, ApplyError):
            self._stop_before = error.event.position
            if any(self._handled(e) and e.position < error.event.position for e in planned):
                self.attempts -= 1  # not the poison's fault: commit the good prefix right away
                return Verdict(False, 0.0, False, self.attempts, None)
            poison: RecordedEvent | None = error.event
        else:
            handled = [e for e in planned if self._handled(e)]
            if len(handled) > 1:
                self._isolate_until = max(self._isolate_until, planned[-1].position)
                return Verdict(
                    False, self._config.backoff(self.attempts), False, self.attempts, None
                )
            poison = handled[0] if handled else None
        if poison is None:
            # Nothing handled failed: the checkpoint write or the store did. Not skippable.
            return Verdict(False, self._config.backoff(self.attempts), True, self.attempts, None)
        pause = self.attempts > self._config.retries
        delay = 0.0 if pause else self._config.backoff(self.attempts)
        return Verdict(pause, delay, False, self.attempts, poison)

"""In-process event bus.

Routing is an explicit table handed to the constructor (event type -> handlers, plus
handlers for every event); nothing registers itself on import. The handlers of one event run
concurrently; one failing never stops the others: its failure is logged and returned.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from domain.events import RecordedEvent

log = logging.getLogger("pulse.bus")

EventHandler = Callable[[RecordedEvent], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class HandlerFailure:
    handler: str
    event_id: str
    event_type: str
    error: BaseException

    def __str__(self) -> str:
        return f"{self.handler} failed on {self.event_type} {self.event_id}: {self.error!r}"


def handler_name(handler: EventHandler) -> str:
    name = getattr(handler, "__qualname__", None) or type(handler).__qualname__
    module = getattr(handler, "__module__", "")
    return f"{module}.{name}" if module else name


class EventBus:
    def __init__(
        self,
        routes: Mapping[str, Sequence[EventHandler]] | None = None,
        catch_all: Sequence[EventHandler] = (),
    ) -> None:
        self._routes = {event_type: tuple(hs) for event_type, hs in (routes or {}).items()}
        self._catch_all = tuple(catch_all)

    def handlers_for(self, event_type: str) -> tuple[EventHandler, ...]:
        return self._routes.get(event_type, ()) + self._catch_all

    async def publish(self, event: RecordedEvent) -> list[HandlerFailure]:
        handlers = self.handlers_for(event.type)
        if not handlers:
            return []
        results = await asyncio.gather(
            *(handler(event) for handler in handlers), return_exceptions=True
        )
        failures: list[HandlerFailure] = []
        for handler, result in zip(handlers, results, strict=True):
            if isinstance(result, BaseException):
                if isinstance(result, asyncio.CancelledError):
                    raise result
                failure = HandlerFailure(handler_name(handler), event.id, event.type, result)
                log.error("event handler failed: %s", failure)
                failures.append(failure)
        return failures

    async def publish_all(self, events: Sequence[RecordedEvent]) -> list[HandlerFailure]:
        failures: list[HandlerFailure] = []
        for event in events:
            failures.extend(await self.publish(event))
        return failures

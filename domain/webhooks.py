"""Processing accepted Odoo webhooks: each is a hint that record X changed.

The body is never trusted as the record's state (it holds only the fields the Odoo admin
chose, and deliveries can arrive out of order): Pulse re-reads the record from Odoo and runs
the same change detection as a sync, so a webhook ends in exactly the events a sync would
produce and is idempotent. A record Odoo no longer returns was deleted.

Deliveries are processed in batches (:meth:`WebhookProcessor.process_batch`): per model one
Odoo ``read`` of every record named, and one ingestion (one snapshot lookup, one append, one
snapshot write) for all of them, so a batch costs about the store round trips of a single
delivery. Each delivery still gets its own result: the counts and last position of the
record it named. Failures stay as narrow as they can be: a model whose Odoo read fails
fails only its own deliveries, and a model whose ingestion fails is processed again one
record at a time, so one record that cannot be ingested does not hold back the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

from domain.catalog import canonical_model
from domain.ingestion import Ingestor, IngestStats
from domain.normalize import LEAD, MODEL_FIELDS
from domain.odoo_gateway import OdooGateway, OdooRow
from domain.sync import SYNC_ORDER

log = logging.getLogger("pulse.webhooks")

#: Models a webhook may name (Odoo's model names; hr.employee.public is read as hr.employee).
WEBHOOK_MODELS = frozenset(MODEL_FIELDS) | {"hr.employee.public"}
SOURCE = "webhook"

#: What one delivery of a batch came to: its record's counts, or why it failed (the caller
#: keeps the delivery for a later attempt).
WebhookOutcome = IngestStats | Exception


@dataclass(frozen=True, slots=True)
class ProcessWebhook:
    """Command: re-read one record named by a webhook and ingest what changed."""

    delivery_id: str
    model: str
    odoo_id: int


def _ingest_rank(model: str) -> int:
    # The sync's order: stages before deals, so a deal of this batch is judged won or not
    # with the stages this batch brought.
    return SYNC_ORDER.index(model) if model in SYNC_ORDER else len(SYNC_ORDER)


class WebhookProcessor:
    def __init__(self, gateway: OdooGateway, ingestor: Ingestor) -> None:
        self._odoo = gateway
        self._ingestor = ingestor

    async def __call__(self, command: ProcessWebhook) -> IngestStats:
        """One delivery alone (the fallback of a batch whose ingestion failed)."""
        model = canonical_model(command.model)
        rows = await self._read(model, [command.odoo_id])
        if not rows:
            return await self._ingestor.ingest_missing(
                model, command.odoo_id, source=SOURCE, correlation_id=command.delivery_id
            )
        won = await self._ingestor.won_stage_ids() if model == LEAD else None
        return await self._ingestor.ingest_rows(
            model, rows, source=SOURCE, correlation_id=command.delivery_id, won_stage_ids=won
        )

    async def process_batch(self, commands: Sequence[ProcessWebhook]) -> dict[str, WebhookOutcome]:
        """Process deliveries together; return each delivery's outcome by delivery id.

        Never raises for a delivery's failure (only for cancellation): an Odoo read that
        fails (OdooError, ConnectionError, TimeoutError, or anything else) becomes the
        outcome of that model's deliveries; an ingestion that fails is retried one record at
        a time, and what still fails is the outcome of that record's deliveries."""
        outcomes: dict[str, WebhookOutcome] = {}
        groups: dict[str, list[ProcessWebhook]] = {}
        for command in commands:
            try:
                model = canonical_model(command.model)
            except ValueError as err:  # the receiver accepts only known models
                outcomes[command.delivery_id] = err
                continue
            groups.setdefault(model, []).append(command)
        models = sorted(groups, key=_ingest_rank)
        # The reads of different models wait on Odoo together.
        reads = await asyncio.gather(
            *(self._read(m, sorted({c.odoo_id for c in groups[m]})) for m in models),
            return_exceptions=True,
        )
        for model, rows in zip(models, reads, strict=True):
            group = groups[model]
            if isinstance(rows, BaseException):
                if not isinstance(rows, Exception):
                    raise rows
                outcomes.update((c.delivery_id, rows) for c in group)
                continue
            outcomes.update(await self._ingest_group(model, group, rows))
        return outcomes

    async def _read(self, model: str, ids: list[int]) -> list[OdooRow]:
        fields = [*MODEL_FIELDS[model], "write_date"]
        # The gateway itself falls back from hr.employee to hr.employee.public.
        return await self._odoo.read(model, ids, fields)

    async def _ingest_group(
        self, model: str, group: list[ProcessWebhook], rows: list[OdooRow]
    ) -> dict[str, WebhookOutcome]:
        # Each record's events carry the first (oldest due) delivery that named it.
        first: dict[int, str] = {}
        for command in group:
            first.setdefault(command.odoo_id, command.delivery_id)
        asked = set(first)
        returned = {row.get("id") for row in rows}
        by_record: dict[int, IngestStats] = {}
        try:
            if not returned <= asked:  # an id not asked for: cannot tell whose it is
                raise ValueError(f"Odoo {model}.read returned records not asked for")
            if rows:
                won = await self._ingestor.won_stage_ids() if model == LEAD else None
                await self._ingestor.ingest_rows(
                    model,
                    rows,
                    source=SOURCE,
                    won_stage_ids=won,
                    correlation_ids=first,
                    by_record=by_record,
                )
            missing = sorted(asked - returned)
            if missing:  # Odoo's read leaves out the records that no longer exist
                await self._ingestor.ingest_missing_many(
                    model, missing, source=SOURCE, correlation_ids=first, by_record=by_record
                )
        except Exception:
            log.exception(
                "webhooks: ingesting %d %s records together failed; one at a time instead",
                len(first),
                model,
            )
            return await self._one_at_a_time(model, group, first)
        # A record never seen and not returned (or already deleted) has nothing to count.
        return {c.delivery_id: _own(by_record.get(c.odoo_id)) for c in group}

    async def _one_at_a_time(
        self, model: str, group: list[ProcessWebhook], first: dict[int, str]
    ) -> dict[str, WebhookOutcome]:
        by_record: dict[int, WebhookOutcome] = {}
        for odoo_id, delivery_id in first.items():
            try:
                by_record[odoo_id] = await self(ProcessWebhook(delivery_id, model, odoo_id))
            except Exception as err:  # this record's deliveries are kept for a later attempt
                by_record[odoo_id] = err
        return {
            c.delivery_id: (
                outcome if isinstance(outcome := by_record[c.odoo_id], Exception) else _own(outcome)
            )
            for c in group
        }


def _own(stats: IngestStats | None) -> IngestStats:
    """A delivery's own copy (two deliveries of one record do not share a mutable result)."""
    if stats is None:
        return IngestStats()
    return replace(stats, rejections=list(stats.rejections))

"""Processing an accepted Odoo webhook: a hint that record X changed.

The body is never trusted as the record's state (it holds only the fields the Odoo admin
chose, and deliveries can arrive out of order): Pulse re-reads the record from Odoo and runs
the same change detection as a sync, so a webhook ends in exactly the events a sync would
produce and is idempotent. A record Odoo no longer returns was deleted.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.catalog import canonical_model
from domain.ingestion import Ingestor, IngestStats
from domain.normalize import LEAD, MODEL_FIELDS
from domain.odoo_gateway import OdooGateway

#: Models a webhook may name (Odoo's model names; hr.employee.public is read as hr.employee).
WEBHOOK_MODELS = frozenset(MODEL_FIELDS) | {"hr.employee.public"}


@dataclass(frozen=True, slots=True)
class ProcessWebhook:
    """Command: re-read one record named by a webhook and ingest what changed."""

    delivery_id: str
    model: str
    odoo_id: int


class WebhookProcessor:
    def __init__(self, gateway: OdooGateway, ingestor: Ingestor) -> None:
        self._odoo = gateway
        self._ingestor = ingestor

    async def __call__(self, command: ProcessWebhook) -> IngestStats:
        model = canonical_model(command.model)
        fields = [*MODEL_FIELDS[model], "write_date"]
        # The gateway itself falls back from hr.employee to hr.employee.public.
        rows = await self._odoo.read(model, [command.odoo_id], fields)
        source = "webhook"
        if not rows:
            return await self._ingestor.ingest_missing(
                model, command.odoo_id, source=source, correlation_id=command.delivery_id
            )
        won = await self._ingestor.won_stage_ids() if model == LEAD else None
        return await self._ingestor.ingest_rows(
            model, rows, source=source, correlation_id=command.delivery_id, won_stage_ids=won
        )

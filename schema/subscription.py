"""``type Subscription``: live pushes over graphql-transport-ws.

Both subscriptions listen on the caller's own broadcast channel (admins: ``__all__``) through
the process's one hub listener per channel, and treat a notification as a hint only: they
re-read the read model and apply the visibility rules before sending anything, so a
payload can never carry a value the caller may not see. The caller's access entry is
re-checked on every notification (``Session.caller`` re-reads it after the TTL): a user who
loses access gets an error and the subscription ends.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from typing import Any

import strawberry

from projections.read_models import ADMIN_DASHBOARD_ID, dashboard_channel, opportunity_channel
from schema import described
from schema.context import Context
from schema.pacing import PushPacer
from schema.readers.dashboards import (
    dashboard_doc,
    dashboard_view,
    fingerprint,
    stored_dashboard,
)
from schema.readers.opportunities import find_opportunity_row, visible_opportunity
from schema.session import Caller
from schema.types.dashboard import Dashboard
from schema.types.enums import ChangeKind
from schema.types.opportunities import OpportunityChange

Info = strawberry.Info[Context]
REMEMBERED_OPPORTUNITIES = 1000  # per subscription, to drop repeated identical pushes


def channel_owner(caller: Caller) -> str:
    if caller.is_admin:
        return ADMIN_DASHBOARD_ID
    assert caller.viewer.user_id is not None  # a non-admin without a user is FORBIDDEN
    return caller.viewer.user_id


@dataclass(frozen=True, slots=True)
class ChangeNotice:
    """``{"kind": "CREATED"|"UPDATED"|"REMOVED", "opportunityId": str, "position": int}``"""

    kind: ChangeKind
    opportunity_id: str
    position: int


def parse_notice(message: Mapping[str, Any]) -> ChangeNotice | None:
    """None for anything else (the hub's resync markers, foreign messages)."""
    kind = message.get("kind")
    target = message.get("opportunityId")
    position = message.get("position")
    if not isinstance(kind, str) or kind not in ChangeKind.__members__:
        return None
    if not isinstance(target, str | int) or isinstance(target, bool) or target == "":
        return None
    if not isinstance(position, int) or isinstance(position, bool):
        return None
    return ChangeNotice(ChangeKind[kind], str(target), position)


@strawberry.type
class Subscription:
    @described.subscription("The current dashboard at once, then one per change.")
    async def dashboard_updated(self, info: Info) -> AsyncGenerator[Dashboard, None]:
        ctx = info.context
        caller = await ctx.session.caller()
        pacer = PushPacer()
        # Subscribe first, read second: a change landing in between is then both in the
        # state we read and in a notification, never in neither (pub/sub does not replay).
        async with ctx.notifications.subscribe(dashboard_channel(channel_owner(caller))) as inbox:
            raw = await stored_dashboard(ctx, caller)
            sent = fingerprint(caller, raw)
            with pacer.pushing():
                yield dashboard_view(caller, dashboard_doc(caller, raw))
            async for _message in inbox:  # a notification or a resync marker: re-read
                await pacer.wait_turn()
                # Every message on this channel means "re-read", and the read below sees
                # all that the queued ones announce: a burst costs one read and one render
                # (under load a dashboard fell minutes behind rendering each notification).
                inbox.drain()
                caller = await ctx.session.caller()
                raw = await stored_dashboard(ctx, caller)
                current = fingerprint(caller, raw)
                if current == sent:
                    continue
                sent = current
                with pacer.pushing():
                    yield dashboard_view(caller, dashboard_doc(caller, raw))

    @described.subscription("Changes to opportunities visible to the viewer.")
    async def opportunity_changed(self, info: Info) -> AsyncGenerator[OpportunityChange, None]:
        ctx = info.context
        caller = await ctx.session.caller()
        last_sent: OrderedDict[str, tuple[Any, ...]] = OrderedDict()
        channel = opportunity_channel(channel_owner(caller))
        async with ctx.notifications.subscribe(channel) as inbox:
            async for message in inbox:
                notice = parse_notice(message)
                if notice is None:
                    continue  # lost notifications cannot be recovered for a change feed
                caller = await ctx.session.caller()
                change, marker = await _change_for(ctx, caller, notice)
                if last_sent.get(notice.opportunity_id) == marker:
                    continue
                last_sent[notice.opportunity_id] = marker
                last_sent.move_to_end(notice.opportunity_id)
                while len(last_sent) > REMEMBERED_OPPORTUNITIES:
                    last_sent.popitem(last=False)
                yield change


async def _change_for(
    ctx: Context, caller: Caller, notice: ChangeNotice
) -> tuple[OpportunityChange, tuple[Any, ...]]:
    """The change to send, decided by the current document, not by the notice: REMOVED when
    it is gone or no longer visible (the notice came on the caller's own channel, so they
    could see it before), else the notice's kind (UPDATED for a stale REMOVED)."""
    row = await find_opportunity_row(ctx, notice.opportunity_id)
    node = None if row is None else await visible_opportunity(ctx, caller, row)
    if row is None or node is None:
        removed = OpportunityChange(
            kind=ChangeKind.REMOVED,
            opportunity_id=strawberry.ID(notice.opportunity_id),
            opportunity=None,
            position=notice.position,
        )
        return removed, ("REMOVED",)
    kind = ChangeKind.UPDATED if notice.kind is ChangeKind.REMOVED else notice.kind
    shown = OpportunityChange(
        kind=kind,
        opportunity_id=strawberry.ID(notice.opportunity_id),
        opportunity=node,
        position=notice.position,
    )
    return shown, ("SHOWN", row.get("pos"), str(row.get("updated_at")))

"""A realistic org and pipeline written straight into the event store (``append_batch``).

    python -m bench.generate --users 1000 --leads 100000 --events 1000000   (into a temp store)

Events are produced by the real change detection (``domain.change_detection``) from record
histories, so they are exactly what a sync would append; only the snapshot store is skipped.

* Org: one CEO; a *wide* VP with ~half the users below them (10 directors, ~49 reps each:
  the "manager of ~500 reps"); a *deep* branch (a 25-level chain, the rest hung at random
  under it); ~3% archived users.
* Pipeline: owners Zipf-skewed (a few reps own many deals), deal sizes log-normal, stage
  churn (moves, wins, losses, restores, revenue edits, reassignments) until the event count
  is reached. One commit per opportunity history; ~100 commits per ``append_batch``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.change_detection import detect_changes
from domain.event_store import AppendRequest, ExpectedVersion
from domain.events import NewEvent
from domain.model import (
    EmployeeRecord,
    LeadRecord,
    PartnerRecord,
    Record,
    StageRecord,
    TeamRecord,
    UserRecord,
)
from infrastructure.eventstore.mongo import MongoEventStore

DOMAIN = "bench.example"
STAGES = [("New", 1, False, 10.0), ("Qualified", 2, False, 30.0), ("Proposition", 3, False, 60.0),
          ("Negotiation", 4, False, 80.0), ("Won", 70, True, 100.0)]  # fmt: skip
WON_STAGE = len(STAGES)  # odoo id of "Won"
LOST_REASON = 1
START = datetime(2025, 11, 1, tzinfo=UTC)
STREAM_TYPE = {
    "crm.lead": "opportunity",
    "res.users": "user",
    "hr.employee": "employee",
    "crm.stage": "stage",
    "crm.team": "team",
    "res.partner": "partner",
}


@dataclass(frozen=True, slots=True)
class Org:
    users: int
    wide_manager: int  # odoo user id of the manager of ~half the org
    wide_reports: list[int]  # user ids under them
    deep_leaf: int  # a user at the bottom of the deep chain
    reps: list[int]  # user ids that own deals (everyone, skewed)
    inactive: frozenset[int]  # archived users (they cannot log in)


def email(uid: int) -> str:
    return f"user{uid:05d}@{DOMAIN}"


def org_records(users: int, rng: random.Random) -> tuple[Org, list[tuple[str, Record]]]:
    """(the org's shape, every org record in model order)."""
    parent: dict[int, int | None] = {1: None}
    wide = 2
    parent[wide] = 1
    half = max(users // 2, 12)
    directors = list(range(3, 13))
    for d in directors:
        parent[d] = wide
    uid = 13
    while uid <= half + 1 and uid <= users:
        parent[uid] = directors[(uid - 13) % len(directors)]
        uid += 1
    wide_reports = [u for u in parent if u not in (1, wide)]
    chain_start, previous = uid, 1
    while uid <= users and uid < chain_start + 25:
        parent[uid] = previous
        previous = uid
        uid += 1
    deep_leaf = previous
    deep = list(range(chain_start, uid))
    while uid <= users:
        boss = deep[min(int(rng.expovariate(1 / 8)), len(deep) - 1)] if rng.random() < 0.3 \
            else rng.choice(deep)  # fmt: skip
        parent[uid] = boss
        deep.append(uid)
        uid += 1
    records: list[tuple[str, Record]] = []
    for s, (name, seq, won, _) in enumerate(STAGES, 1):
        records.append(("crm.stage", StageRecord(s, name, seq, won)))
    inactive: set[int] = set()
    for u in range(1, users + 1):
        active = u <= 13 or rng.random() > 0.03
        if not active:
            inactive.add(u)
        records.append(
            ("res.users", UserRecord(u, email(u), f"User {u:05d}", email(u), active, False, 1))
        )
    for u in range(1, users + 1):
        emp = EmployeeRecord(u, f"User {u:05d}", u, parent[u], email(u), True, None, 1)
        records.append(("hr.employee", emp))
    for t in range(1, 21):
        records.append(("crm.team", TeamRecord(t, f"Team {t:02d}", 1 + (t * 37) % users)))
    for p in range(1, 2001):
        records.append(("res.partner", PartnerRecord(p, f"Customer {p:05d}", True)))
    reps = [u for u in range(1, users + 1) if u != 1]
    rng.shuffle(reps)  # Zipf rank -> user, at random
    org = Org(users, wide, wide_reports, deep_leaf, reps, frozenset(inactive))
    return org, records


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def owner(org: Org, rng: random.Random) -> int | None:
    if rng.random() < 0.02:
        return None  # unassigned
    rank = min(int(rng.paretovariate(1.1)) - 1, len(org.reps) - 1)
    if rng.random() < 0.5:  # half the deals spread evenly: nobody owns nothing
        rank = rng.randrange(len(org.reps))
    return org.reps[rank]


def mutate(lead: LeadRecord, org: Org, rng: random.Random, at: datetime) -> LeadRecord:
    """One realistic edit: mostly stage churn, some revenue edits, reassignments, closes."""
    roll = rng.random()
    new: LeadRecord
    if not lead.active:
        new = replace(lead, active=True, probability=STAGES[(lead.stage_id or 1) - 1][3],
                      lost_reason_id=None)  # fmt: skip
    elif roll < 0.55:  # stage churn, forwards mostly, sometimes back
        current = lead.stage_id or 1
        step = 1 if rng.random() < 0.75 else -1
        stage = min(max(current + step, 1), len(STAGES))
        if stage == current:
            stage = 1 + rng.randrange(len(STAGES) - 1)
        new = replace(lead, stage_id=stage, probability=STAGES[stage - 1][3])
    elif roll < 0.75:
        factor = rng.choice((0.5, 0.8, 0.9, 1.1, 1.25, 2.0))
        new = replace(lead, expected_revenue=round(lead.expected_revenue * factor, 2))
    elif roll < 0.85:
        new = replace(lead, user_id=owner(org, rng))
    elif roll < 0.95:  # lost
        new = replace(lead, active=False, probability=0.0, lost_reason_id=LOST_REASON)
    else:
        new = replace(lead, name=lead.name + "*")
    return replace(new, write_date=stamp(at))


def first_lead(n: int, org: Org, rng: random.Random, at: datetime) -> LeadRecord:
    stage = 1 + min(int(rng.expovariate(1.2)), len(STAGES) - 2)
    revenue = round(min(rng.lognormvariate(9.5, 1.3), 5_000_000.0), 2)  # skewed deal sizes
    return LeadRecord(
        odoo_id=n,
        name=f"Deal {n:06d}",
        type="lead" if rng.random() < 0.03 else "opportunity",
        user_id=owner(org, rng),
        team_id=1 + n % 20,
        stage_id=stage,
        partner_id=1 + rng.randrange(2000),
        expected_revenue=revenue,
        probability=STAGES[stage - 1][3],
        create_date=stamp(at),
        write_date=stamp(at),
        company_id=1,
    )


def lead_history(
    n: int, changes: int, org: Org, rng: random.Random, at: datetime
) -> list[NewEvent]:
    won = {WON_STAGE}
    lead = first_lead(n, org, rng, at)
    events = detect_changes("crm.lead", None, lead, source="bench", won_stage_ids=won)
    for _ in range(changes):
        at += timedelta(seconds=rng.randrange(60, 86_400 * 3))
        new = mutate(lead, org, rng, at)
        events.extend(detect_changes("crm.lead", lead, new, source="bench", won_stage_ids=won))
        lead = new
    return events


def lead_requests(
    org: Org, leads: int, lead_events: int, seed: int, chunk: int = 100
) -> Iterator[list[AppendRequest]]:
    """Chunks of one-commit-per-opportunity requests, totalling about ``lead_events``."""
    rng = random.Random(seed + 1)
    mean_changes = max(lead_events / max(leads, 1) - 1, 0.0)
    out: list[AppendRequest] = []
    remaining = lead_events
    for n in range(1, leads + 1):
        left = leads - n + 1
        target = remaining / left - 1  # keeps the total on track
        # skewed churn: most deals move a few times, some a lot
        changes = int(rng.expovariate(1 / max(target, 0.01))) if mean_changes else 0
        changes = min(changes, int(8 * max(target, 1)))
        at = START + timedelta(seconds=rng.randrange(86_400 * 200))
        events = lead_history(n, changes, org, rng, at)
        remaining -= len(events)
        out.append(AppendRequest(stream_of("crm.lead", n), events, ExpectedVersion.NO_STREAM))
        if len(out) >= chunk:
            yield out
            out = []
    if out:
        yield out


def stream_of(model: str, odoo_id: int) -> Any:
    from domain.events import StreamRef

    return StreamRef(STREAM_TYPE[model], str(odoo_id))


@dataclass(frozen=True, slots=True)
class Generated:
    org: Org
    leads: int
    events: int
    head: int
    seconds: float


async def generate(
    store: MongoEventStore, *, users: int, leads: int, events: int, seed: int = 7
) -> Generated:
    """Append the org then the pipeline; return the org shape and the head position."""
    started = time.perf_counter()
    rng = random.Random(seed)
    org, records = org_records(users, rng)
    now = START - timedelta(days=1)
    org_requests = [
        AppendRequest(
            stream_of(model, int(record.to_dict()["odoo_id"])),
            detect_changes(model, None, record, source="bench", occurred_at=now),
            ExpectedVersion.NO_STREAM,
        )
        for model, record in records
    ]
    for i in range(0, len(org_requests), 500):
        await store.append_batch(org_requests[i : i + 500])
    written = len(org_requests)
    chunks = lead_requests(org, leads, max(events - written, leads), seed)

    def take() -> list[AppendRequest] | None:
        return next(chunks, None)

    pending = await asyncio.to_thread(take)
    while pending is not None:
        # Generate the next chunk in a thread while the store inserts this one.
        upcoming = asyncio.ensure_future(asyncio.to_thread(take))
        await store.append_batch(pending)
        written += sum(len(r.events) for r in pending)
        pending = await upcoming
    head = await store.head_position()
    return Generated(org, leads, written, head, time.perf_counter() - started)


async def _main(users: int, leads: int, events: int) -> None:
    import tempfile
    from pathlib import Path

    from infrastructure.mongo.client import create_client
    from infrastructure.mongo.embedded import EmbeddedStore

    with tempfile.TemporaryDirectory() as tmp:
        embedded = EmbeddedStore(Path(tmp))
        client = create_client(embedded.start())
        try:
            store = MongoEventStore(client["bench"])
            await store.ensure_indexes()
            result = await generate(store, users=users, leads=leads, events=events)
            print(f"{result.events:,} events (head {result.head:,}) in {result.seconds:.1f} s "
                  f"= {result.events / result.seconds:,.0f} events/s")  # fmt: skip
        finally:
            await client.close()
            embedded.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    asyncio.run(_main(args.users, args.leads, args.events))


if __name__ == "__main__":
    main()

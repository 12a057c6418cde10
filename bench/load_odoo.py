"""The "Odoo side" of the load harness (``bench/load.py``), in its own process.

    python -m bench.load_odoo --users 1000 --leads 20000        (started by bench/load.py)

It holds a populated built-in Odoo (``infrastructure.odoo_fake.populate``: a span-8 org
tree, leads over stages and owners) served on loopback, and it is the webhook *firer*: like
Odoo's automation rule, it writes a record and then posts the "Send Webhook Notification"
body for it. Keeping this apart from the subscriber process means the CPU that serving
Pulse's Odoo reads and sending the webhooks costs is not charged to the WebSocket clients
(both are reported separately).

Protocol (JSON lines):

* stdout, once ready: ``{"url", "db", "login", "api_key", "pid", "users": [[id, email,
  active, manager_user_id], ...], "deals": [[lead_id, user_id], ...]}`` (``deals``: active,
  open, assigned opportunities). With ``--no-odoo``: no Odoo, empty lists.
* stdin: ``{"cmd": "fire", "plan": PATH, "out": PATH}``; the plan file holds ``{"url",
  "rate", "secret", "items": [{"write": {"id", "values"} | null, "body": {...} | null}]}``.
  Item ``i`` is due at ``t0 + i / rate`` (open loop: a slow answer never delays the next
  one; at most ``SENDERS`` posts are in flight, later ones are sent late and say so). For an
  item with ``write``, the lead is written first and the body is what Odoo would post for it
  (``webhook_body``); otherwise ``body`` is posted as is. When every item is answered, the
  results go to ``out`` (one ``[i, t_due, t_sent, t_done, status, answer]`` per item; times
  are ``time.time()``, comparable across processes on this host) and stdout gets
  ``{"done": n}``.
* stdin ``{"cmd": "quit"}`` or EOF: exit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from infrastructure.odoo_fake import FakeOdoo, populate, sign, webhook_body

WEBHOOK_FIELDS = ["stage_id", "user_id", "expected_revenue", "probability"]
SENDERS = 64  # webhook posts in flight at most (Odoo's workers post synchronously)


def org_and_deals(odoo: FakeOdoo) -> tuple[list[list[Any]], list[list[int]]]:
    employees = odoo.records("hr.employee")
    user_of_employee = {e["id"]: e["user_id"] for e in employees if e["user_id"]}
    manager_of_user: dict[int, int | None] = {}
    for e in employees:
        if e["user_id"]:
            parent = e["parent_id"]
            manager_of_user[e["user_id"]] = user_of_employee.get(parent) if parent else None
    users = [
        [u["id"], u["email"] or u["login"], bool(u["active"]), manager_of_user.get(u["id"])]
        for u in odoo.records("res.users")
        if not u["share"] and u["id"] in manager_of_user
    ]
    won = {s["id"] for s in odoo.records("crm.stage") if s["is_won"]}
    deals = [
        [lead["id"], lead["user_id"]]
        for lead in odoo.records("crm.lead")
        if lead["active"]
        and lead["type"] == "opportunity"
        and lead["user_id"]
        and lead["stage_id"] not in won
        and lead["probability"] > 0
    ]
    return users, deals


async def fire(odoo: FakeOdoo | None, plan: dict[str, Any]) -> list[list[Any]]:
    url: str = plan["url"]
    rate = float(plan["rate"])
    secret: str | None = plan.get("secret")
    items: list[dict[str, Any]] = plan["items"]
    results: list[list[Any]] = [[] for _ in items]
    # At most SENDERS requests in flight, each sender with a client (and a keep-alive
    # connection) of its own; the rest wait in a queue (O(1)). One shared pool of SENDERS
    # connections cost O(connections) per request in httpcore's request assignment (an
    # expiry check, a getpeername each): 55 % of this process's samples at 200 posts/s,
    # which made the harness, not the server, set the pace of the answers it timed.
    queue: asyncio.Queue[tuple[int, float, bytes, dict[str, str]] | None] = asyncio.Queue()

    async def sender() -> None:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(timeout=120, limits=limits) as client:
            while (job := await queue.get()) is not None:
                i, due, body, headers = job
                sent = time.time()
                try:
                    response = await client.post(url, content=body, headers=headers)
                    status = response.status_code
                    try:
                        answer: Any = response.json()
                    except ValueError:
                        answer = response.text[:200]
                except httpx.HTTPError as err:
                    status, answer = 0, repr(err)[:200]
                results[i] = [i, due, sent, time.time(), status, answer]

    senders = [asyncio.create_task(sender()) for _ in range(SENDERS)]
    start = time.time() + 0.05
    for i, item in enumerate(items):
        due = start + i / rate
        delay = due - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        # Odoo writes the record at once and posts when one of its workers is free.
        write = item.get("write")
        if write is not None and odoo is not None:
            odoo.write("crm.lead", int(write["id"]), write["values"])
            body = webhook_body(odoo.store, "crm.lead", int(write["id"]), WEBHOOK_FIELDS)
            assert body is not None
        else:
            body = json.dumps(item["body"]).encode()
        headers = {"Content-Type": "application/json"}
        if secret:
            headers.update(sign(body, secret))
        queue.put_nowait((i, due, body, headers))
    for _ in senders:
        queue.put_nowait(None)
    await asyncio.gather(*senders)
    return results


async def serve_commands(odoo: FakeOdoo | None) -> None:
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        command = json.loads(line)
        if command.get("cmd") == "quit":
            return
        if command.get("cmd") == "fire":
            plan = json.loads(Path(command["plan"]).read_text())
            results = await fire(odoo, plan)
            Path(command["out"]).write_text(json.dumps(results))
            print(json.dumps({"done": len(results)}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-odoo", action="store_true", help="only fire webhooks (peers)")
    args = parser.parse_args()
    odoo: FakeOdoo | None = None
    info: dict[str, Any] = {"pid": os.getpid(), "users": [], "deals": []}
    if not args.no_odoo:
        odoo = FakeOdoo(version="19.0", demo=False)
        populate(odoo, users=args.users, leads=args.leads, seed=args.seed)
        odoo.start()
        users, deals = org_and_deals(odoo)
        info.update(url=odoo.url, db=odoo.db, login=odoo.login, api_key=odoo.api_key,
                    users=users, deals=deals)  # fmt: skip
    print(json.dumps(info), flush=True)
    try:
        asyncio.run(serve_commands(odoo))
    finally:
        if odoo is not None:
            odoo.close()


if __name__ == "__main__":
    main()

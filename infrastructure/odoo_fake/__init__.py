"""The built-in Odoo: an in-memory Odoo 16-19 look-alike for tests, benchmarks and the demo.

It speaks JSON-RPC and (for 19+) JSON-2 like real Odoo, with the models and fields of ODOO.md,
Odoo's value encoding, domains, ordering, ``active_test``, access errors and webhooks, plus a
controllable clock and fault injection. Entry points:

* :class:`FakeOdoo`: start/stop on a loopback port (tests, ``pulse demo``).
* :func:`run_fake_odoo`: serve in the foreground (``pulse odoo-fake``).
* :func:`demo_users` / :func:`load_demo`: the Northwind demo company.
* :func:`populate`: large synthetic data sets (benchmarks).
"""

from infrastructure.odoo_fake.clock import OdooClock
from infrastructure.odoo_fake.demo_company import (
    DemoCompany,
    DemoUser,
    add_parent_cycle,
    demo_picks,
    demo_users,
    load_demo,
)
from infrastructure.odoo_fake.instance import OdooInstance
from infrastructure.odoo_fake.populate import Populated, populate
from infrastructure.odoo_fake.records import RecordStore
from infrastructure.odoo_fake.runner import FakeOdoo, main, run_fake_odoo
from infrastructure.odoo_fake.webhooks import WebhookRule, post_webhook, sign, webhook_body

__all__ = [
    "DemoCompany",
    "DemoUser",
    "FakeOdoo",
    "OdooClock",
    "OdooInstance",
    "Populated",
    "RecordStore",
    "WebhookRule",
    "add_parent_cycle",
    "demo_picks",
    "demo_users",
    "load_demo",
    "main",
    "populate",
    "post_webhook",
    "run_fake_odoo",
    "sign",
    "webhook_body",
]

"""A populated built-in Odoo in its own process, for benchmarks (keeps its memory apart).

python -m bench.odoo_server USERS LEADS   -> prints one JSON line {url, db, login, api_key}
"""

from __future__ import annotations

import json
import sys
import time

from infrastructure.odoo_fake import FakeOdoo
from infrastructure.odoo_fake.populate import populate


def main() -> None:
    users, leads = int(sys.argv[1]), int(sys.argv[2])
    odoo = FakeOdoo(version="19.0", demo=False)
    populate(odoo, users=users, leads=leads)
    odoo.start()
    print(
        json.dumps({"url": odoo.url, "db": odoo.db, "login": odoo.login, "api_key": odoo.api_key}),
        flush=True,
    )
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()

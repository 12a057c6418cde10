"""``python -m infrastructure.odoo_fake``: serve the built-in Odoo in the foreground."""

import sys

from infrastructure.odoo_fake.runner import main

sys.exit(main())

"""Odoo webhooks: the HTTP receiver, the durable inbox, and the processor that drains it."""

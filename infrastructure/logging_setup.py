"""Process-wide logging: one format, and a last-line filter that masks secret values.

Secrets are SecretStr in settings and are never formatted on purpose; the filter is defence
in depth against a library that echoes a URL or header into a log line.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable

MASK = "***"
# The webhook URL carries its secret (stock Odoo cannot sign): never log it, e.g. in access logs.
WEBHOOK_PATH = re.compile(r"(/webhooks/odoo/)[^\s\"'?]+")


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = WEBHOOK_PATH.sub(rf"\g<1>{MASK}", message)
        for secret in self._secrets:
            redacted = redacted.replace(secret, MASK)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def configure_logging(level: str = "INFO", secrets: Iterable[str] = ()) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # PyMongo's own DEBUG/INFO chatter is noise at our INFO level.
    logging.getLogger("pymongo").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per Odoo request

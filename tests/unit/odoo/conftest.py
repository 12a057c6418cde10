from __future__ import annotations

import pytest

from tests.unit.odoo.tiny import Tiny, build_tiny


@pytest.fixture
def tiny() -> Tiny:
    return build_tiny()

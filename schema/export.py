"""``python -m schema.export > frontend-contract/schema.graphql``: the SDL the frontend uses."""

from __future__ import annotations

import sys

from schema.build import build_schema


def export_sdl() -> str:
    return build_schema().as_str().rstrip("\n") + "\n"


if __name__ == "__main__":
    sys.stdout.write(export_sdl())

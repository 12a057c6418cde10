"""Who may call what. Visibility of records is ``schema.visibility``; this is about fields."""

from __future__ import annotations

from schema.context import Context
from schema.errors import Forbidden
from schema.session import Caller


async def require_admin(ctx: Context) -> Caller:
    caller = await ctx.session.caller()
    if not caller.is_admin:
        raise Forbidden("Only admins can use this field")
    return caller

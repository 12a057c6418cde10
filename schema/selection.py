"""Whether a field's selection asks for a child field, read from the operation's nodes.

A hint for starting work early (``opportunities`` starts its ``totalCount`` reads beside
the page's), never a decision about what to return: a child under ``@include``/``@skip``
counts as selected, and the child's own resolver still decides. Read from graphql-core's
nodes directly: Strawberry's ``info.selected_fields`` converts the whole subtree (a page's
edges and nodes) on every call."""

from __future__ import annotations

from collections.abc import Iterable

import strawberry
from graphql import FieldNode, FragmentDefinitionNode, FragmentSpreadNode, InlineFragmentNode
from graphql.language import SelectionNode


def selects(info: strawberry.Info, child: str) -> bool:
    """Whether any node of the field being resolved selects ``child`` (a schema name, e.g.
    ``totalCount``), directly or through fragments."""
    raw = info._raw_info
    return any(
        node.selection_set is not None
        and _selects(node.selection_set.selections, child, raw.fragments, set())
        for node in raw.field_nodes
    )


def _selects(
    selections: Iterable[SelectionNode],
    child: str,
    fragments: dict[str, FragmentDefinitionNode],
    seen: set[str],
) -> bool:
    for selection in selections:
        if isinstance(selection, FieldNode):
            if selection.name.value == child:
                return True
        elif isinstance(selection, InlineFragmentNode):
            if _selects(selection.selection_set.selections, child, fragments, seen):
                return True
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if name in seen or fragment is None:
                continue  # (validation rejects fragment cycles; this only stops a loop)
            seen.add(name)
            if _selects(fragment.selection_set.selections, child, fragments, seen):
                return True
    return False

"""Bounds on nested values from parsers: a few lines of YAML aliases expand to a billion
shared values, and a value nested thousands deep cannot be serialised."""

from __future__ import annotations

from typing import Any


def oversized(value: Any, *, max_depth: int, max_values: int) -> str | None:
    """What makes ``value`` deeper or larger than the bounds, or ``None``.

    Containers (dicts, lists, tuples) are walked without recursion and the walk stops at the
    bounds, so it stays cheap on the very values it refuses.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    seen = 0
    while stack:
        item, depth = stack.pop()
        seen += 1
        if seen > max_values:
            return f"holds more than {max_values} values"
        if isinstance(item, dict | list | tuple):
            if depth >= max_depth:
                return f"is nested more than {max_depth} levels deep"
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return None

"""A service's long-lived parts in one process (key store, caches, batchers), one per type.

Looked up by their type, so the caller gets the type back without asserting it:
``runtime.collaborators.get(KeyStore)``; event handlers see the same parts in their
context.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class Collaborators:
    """One instance per type, made on first use or added at start-up."""

    def __init__(self) -> None:
        self._parts: dict[type[object], object] = {}

    def add(self, part: object) -> None:
        self._parts[type(part)] = part

    def find(self, kind: type[T]) -> T | None:
        part = self._parts.get(kind)
        return part if isinstance(part, kind) else None

    def get(self, kind: type[T]) -> T:
        part = self.find(kind)
        if part is None:
            raise LookupError(f"{kind.__name__} is not one of this process's collaborators")
        return part

    def get_or_make(self, kind: type[T], make: Callable[[], T]) -> T:
        part = self.find(kind)
        if part is None:
            part = make()
            self._parts[kind] = part
        return part

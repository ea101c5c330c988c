"""A small generic registry: named entries, collision errors, "did you mean" on unknown keys."""

from __future__ import annotations

import difflib
from typing import Callable, Generic, Iterator, TypeVar

from .errors import UserError

T = TypeVar("T")
U = TypeVar("U")


def unknown_message(kind: str, name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"unknown {kind} {name!r}.{hint} Available: {', '.join(sorted(known))}"


class Registry(Generic[T]):
    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._entries[name] = obj
            return obj

        return decorator

    def get(self, name: str) -> T:
        if name not in self._entries:
            raise UserError(self.unknown_message(name))
        return self._entries[name]

    def unknown_message(self, name: str) -> str:
        return unknown_message(self.kind, name, list(self._entries))

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries))

    def view(self, kind: str, pick: Callable[[T], U | None]) -> "RegistryView[U]":
        """The entries for which `pick` gives something, read-only, under their own kind's name
        (merge methods among the recycling methods: one registry, a view per kind)."""
        return RegistryView(self, kind, pick)


class RegistryView(Generic[U]):
    def __init__(self, registry: Registry, kind: str, pick: Callable):
        self.registry, self.kind, self.pick = registry, kind, pick

    def _entries(self) -> dict[str, U]:
        return {name: picked for name in self.registry
                if (picked := self.pick(self.registry._entries[name])) is not None}

    def get(self, name: str) -> U:
        entries = self._entries()
        if name not in entries:
            raise UserError(unknown_message(self.kind, name, list(entries)))
        return entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self._entries()

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries()))

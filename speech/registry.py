"""Engines chosen by name from config: a registry per kind (recognizers, synthesizers)."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

E = TypeVar("E")  # an engine base class with a class attribute ``name``


class Registry(Generic[E]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.engines: dict[str, type[E]] = {}

    def register(self, cls: type[E]) -> type[E]:
        """Class decorator: make an engine available to :meth:`create` by its ``name``."""
        name = getattr(cls, "name", "")
        if not name:
            raise ValueError(f"{cls.__name__} has no engine name")
        self.engines[name] = cls
        return cls

    def create(self, name: str, **options: Any) -> E:
        """Build the engine registered as ``name`` with its options (from config)."""
        try:
            cls = self.engines[name]
        except KeyError:
            known = ", ".join(sorted(self.engines)) or "none"
            raise ValueError(f"unknown {self.kind} {name!r}; known: {known}") from None
        return cls(**options)

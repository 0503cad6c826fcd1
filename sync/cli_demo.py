"""`leadq demo`: the whole product on the embedded sandbox org (what `make demo` runs)."""

from __future__ import annotations


def demo() -> None:
    """Start the sandbox with a seeded org and show leads and accounts through the real CRM clients."""

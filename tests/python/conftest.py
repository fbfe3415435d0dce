"""Fixtures of the SDK's pytest suite."""

from __future__ import annotations

import asyncio

import pytest


class Leftover:
    """Work that nothing waits for: wait_forever() waits for an event that
    is never set, and records in events being cancelled and its cleanup."""

    def __init__(self) -> None:
        self.events: list[str] = []

    async def wait_forever(self) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.events.append("cancelled")
            raise
        finally:
            self.events.append("cleanup")


@pytest.fixture
def leftover() -> Leftover:
    """A Leftover of this test's own."""
    return Leftover()

"""Fixtures shared by the whole suite: the local platform's services, started once per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localplatform import azurite as azurite_launcher


@pytest.fixture(scope="session")
def azurite() -> Iterator[azurite_launcher.AzuriteServer]:
    """One Azurite blob service for the session, offline, on a free loopback port."""
    server = azurite_launcher.start()
    try:
        yield server
    finally:
        server.stop()

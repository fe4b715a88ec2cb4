"""Fixtures for devhost's tests: one shared devhost subprocess serving the sample app."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from devhost_support import SAMPLE_APP, TIME_SCALE, SampleHost, sample_settings

from devhost.client import DevhostClient
from devhost.testing import start_devhost


@pytest.fixture(scope="session")
def sample_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SampleHost]:
    root = tmp_path_factory.mktemp("devhost-shared")
    log_dir = root / "logs"
    process = start_devhost(
        SAMPLE_APP,
        state_dir=root / "state",
        settings=sample_settings(log_dir),
        time_scale=TIME_SCALE,
    )
    try:
        yield SampleHost(process, log_dir)
    finally:
        code = process.stop()
        assert code == 0, process.log_tail()


@pytest.fixture
def client(sample_host: SampleHost) -> DevhostClient:
    return sample_host.client

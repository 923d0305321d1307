from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults.cluster import Cluster, migrated_template, own_cluster


@pytest.fixture(scope="session")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    """One throwaway cluster for the fault tests, with a migrated template database that each
    portal copies; a test that stops or restarts the server leaves it running."""
    with own_cluster() as started:
        migrated_template(started, tmp_path_factory.mktemp("template"))
        yield started

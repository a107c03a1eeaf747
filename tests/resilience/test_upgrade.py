"""Opening a store whose read tables were built by another version of modelplane.

The read side is derived data: when the table definitions change, the tables are dropped,
created anew and refolded from the log on open, and nothing a user wrote is lost.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from modelplane import log_metadata
from modelplane.client import Client
from modelplane.projections import generations, log
from modelplane.store_handle import Store, close_all
from tests.conftest import store_of
from tests.projection_tables import dump_tables
from tests.resilience.seeding import seed


def test_outdated_read_tables_are_rebuilt_from_the_log(client: Client) -> None:
    client.create_model("iris", tags=["a"])
    client.create_model_version("iris")
    client.update_model_version("iris", 1, stage="production", reason="first")
    log_metadata({"acc": 0.9}, model_name="iris", model_version="1")
    with store_of(client).engine.connect() as conn:
        before = dump_tables(conn)
    # What an older modelplane left behind: different tables and another fingerprint.
    with store_of(client).engine.begin() as conn:
        conn.execute(text("DROP TABLE mp_metadata"))
        conn.execute(text("CREATE TABLE mp_metadata (position BIGINT, key VARCHAR(255))"))
        conn.execute(text("UPDATE mp_schema SET fingerprint = 'from-an-older-version'"))
    close_all()

    fresh = Client()  # a new process would do the same on its first read
    assert fresh.get_model_version("iris", "production").run_metadata["acc"].value == 0.9
    with Store.current().engine.connect() as conn:
        assert dump_tables(conn) == before
    assert fresh.get_stage_history("iris")[0].reason == "first"


def test_a_rebuild_folds_each_transaction_whole(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fold may update a row that a later event of the same transaction inserts (a version
    promoted in the transaction that creates it: the model's ``StageChanged`` is appended
    before the version's ``Created``). The inline fold sees the whole transaction; a rebuild
    reading the log in pages must never end a page inside one, whatever the page size."""
    client.create_model("iris")  # the store exists
    seed(store_of(client).registry, models=2, versions=4, models_per_save=1)
    with store_of(client).engine.connect() as conn:
        inline = dump_tables(conn)
    promoted = [r for r in inline["mp_model_versions"] if "production" in r]
    assert len(promoted) == 2  # version 4 of each seeded model, promoted as it was created

    monkeypatch.setattr(generations, "BUILD_PAGE_SIZE", 1)
    monkeypatch.setattr(generations, "MAX_BUILD_PAGE_SIZE", 1)
    monkeypatch.setattr(log, "PAGE_SIZE", 1)
    client.rebuild_projections()  # live: a new generation, page by page
    with store_of(client).engine.connect() as conn:
        assert dump_tables(conn) == inline
    out = tmp_path / "replayed.db"
    client.rebuild_projections(into=out)  # into a file: ``runner.rebuild``'s pages
    engine = create_engine(f"sqlite:///{out}")
    try:
        with engine.connect() as conn:
            assert dump_tables(conn) == inline
    finally:
        engine.dispose()

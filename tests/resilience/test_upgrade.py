"""Opening a store whose read tables were built by another version of modelplane.

The read side is derived data: when the table definitions change, the tables are dropped,
created anew and refolded from the log on open, and nothing a user wrote is lost.
"""

from __future__ import annotations

from sqlalchemy import text

from modelplane import log_metadata
from modelplane.client import Client
from modelplane.projections.queries import dump_tables
from modelplane.store import Store, close_all


def test_outdated_read_tables_are_rebuilt_from_the_log(client: Client) -> None:
    client.create_model("iris", tags=["a"])
    client.create_model_version("iris")
    client.update_model_version("iris", 1, stage="production", reason="first")
    log_metadata({"acc": 0.9}, model_name="iris", model_version="1")
    with client._store.engine.connect() as conn:
        before = dump_tables(conn)
    # What an older modelplane left behind: different tables and another fingerprint.
    with client._store.engine.begin() as conn:
        conn.execute(text("DROP TABLE mp_metadata"))
        conn.execute(text("CREATE TABLE mp_metadata (position BIGINT, key VARCHAR(255))"))
        conn.execute(text("UPDATE mp_schema SET fingerprint = 'from-an-older-version'"))
    close_all()

    fresh = Client()  # a new process would do the same on its first read
    assert fresh.get_model_version("iris", "production").run_metadata["acc"].value == 0.9
    with Store.current().engine.connect() as conn:
        assert dump_tables(conn) == before
    assert fresh.get_stage_history("iris")[0].reason == "first"

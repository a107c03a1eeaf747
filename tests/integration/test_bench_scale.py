"""The scale bench's bulk seeding and its curves, at smoke sizes.

The scale mode's figures are only worth something if a store grown in bulk through the
domain reads exactly as one grown through the SDK, and if the SDK can go on writing to it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import scale_store  # noqa: E402
from scale import family_table  # noqa: E402
from scale_families import Params, run_family  # noqa: E402
from scale_seed import STAGE_PRODUCTION, BulkSeeder  # noqa: E402

from modelplane import config  # noqa: E402
from modelplane.client import Client  # noqa: E402
from modelplane.enums import ModelStages  # noqa: E402
from modelplane.store_handle import Store, close_all  # noqa: E402


def test_a_bulk_seeded_store_reads_like_one_the_sdk_grew(store: str) -> None:
    client = Client()
    client.list_models(size=1)
    seeder = BulkSeeder(Store.current().registry, config.actor(), batch_events=100)
    model = seeder.model("big", tags=["scale"])
    previous = None
    for number in range(1, 251):
        version = seeder.version(model, tags=["tenth"] if number % 10 == 0 else [])
        if number in (100, 250):
            seeder.promote(model, version, previous, STAGE_PRODUCTION)
            previous = version
        if number == 120:
            seeder.metadata(version, {"accuracy": 0.9})
    seeder.flush()

    # register 3 + 250 versions x 2 + metadata 1 + promotions 2 and 4 (each move and each
    # version's StageSet; the displaced version was saved in an earlier batch)
    assert seeder.events == 510
    assert scale_store.events() == 510
    assert seeder.saves > 1  # batches, not one transaction per event nor one in all
    # the model's 254th event crossed the 200-event snapshot interval during a batch
    assert scale_store.snapshots()["count"] == 1

    page = client.list_model_versions("big", size=100)
    assert page.total == 250
    assert [v.number for v in page][:2] == [250, 249]
    assert client.list_model_versions("big", tag="tenth", size=100).total == 25
    assert client.get_model_version("big", ModelStages.PRODUCTION).number == 250
    assert client.get_model_version("big", "100").stage == ModelStages.ARCHIVED
    history = [(h.version, h.stage.value) for h in client.get_stage_history("big")]
    assert history == [("100", "production"), ("100", "archived"), ("250", "production")]
    assert client.get_model_version("big", "120").run_metadata["accuracy"].value == 0.9

    # the SDK writes on after the seed, through the same aggregate cache
    assert client.create_model_version("big").number == 251
    client.update_model_version("big", "251", stage=ModelStages.PRODUCTION, force=True)
    assert client.get_model_version("big", ModelStages.PRODUCTION).number == 251
    # ... and the seeder after the SDK
    seeder.version(seeder.get(model.id))
    seeder.flush()
    assert client.get_model_version("big", None).number == 252


def test_the_scale_mode_measures_every_size_and_prints_the_curves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite only: the seeding test covers both backends; this one, the report's shape."""
    close_all()
    monkeypatch.setenv("MODELPLANE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MODELPLANE_STORE_URL", raising=False)
    params = Params(reads=2, writes=4, process_runs=1)
    result = run_family("versions", [5, 40], params)

    points = result["points"]
    assert [p["size"] for p in points] == [5, 40]
    assert [p["reached"] for p in points] == [5, 40]
    for point in points:
        metrics = point["metrics"]
        assert metrics["versions_first_page"]["kind"] == "read"
        assert metrics["versions_first_page"]["n"] == 2
        assert metrics["versions_first_page"]["rows"] == point["reached"]  # under a page
        assert metrics["create_version"]["n"] == 4
        assert point["store"]["events"] > 0
    # 5 versions, a promotion, then 2 kept of the 4 the writes made, then up to 40
    assert points[1]["store"]["events"] > points[0]["store"]["events"]

    header, rows = family_table("sqlite", result)
    assert header[1:3] == ["5", "40"]
    labels = [row[0] for row in rows]
    # a page not yet full at 5 versions: its ratio starts where the page is fullest
    assert "versions_last_page ms (ratio from 40: 40 rows)" in labels
    assert "create_version ms (max)" in labels
    assert "store bytes/event" in labels
    assert rows[labels.index("get_by_stage ms")][3].endswith("x")  # one row at every size
    close_all()

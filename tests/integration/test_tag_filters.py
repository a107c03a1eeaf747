"""``tag=`` filters read the tag rows the folds keep (``mp_model_tags``, ``mp_version_tags``):
pages in order with totals that count only matches, through tag edits, renames and deletions,
and the same rows after a rebuild from the log.

Integration tests on both stores (the ``client`` fixture).
"""

from __future__ import annotations

from modelplane.client import Client
from tests.conftest import store_of
from tests.projection_tables import dump_tables


def _names(page: object) -> list[str]:
    return [m.name for m in page]  # type: ignore[attr-defined]


def test_models_by_tag_page_in_name_order_with_their_total(client: Client) -> None:
    for k in range(9):
        client.create_model(f"m{k}", tags=["all", "even" if k % 2 == 0 else "odd"])
    first = client.list_models(tag="even", size=2)
    assert _names(first) == ["m0", "m2"] and first.total == 5 and first.total_pages == 3
    second = client.list_models(tag="even", size=2, cursor=first.next_cursor)
    assert _names(second) == ["m4", "m6"]
    third = client.list_models(tag="even", size=2, cursor=second.next_cursor)
    assert _names(third) == ["m8"] and third.next_cursor is None
    assert _names(client.list_models(tag="even", page=3, size=2)) == ["m8"]
    assert client.list_models(tag="none-such").total == 0
    assert _names(client.list_models(tag="odd", name="3")) == ["m3"]
    assert client.list_models(tag="odd", name="3").total == 1


def test_tag_edits_renames_and_deletions_move_models_between_tags(client: Client) -> None:
    client.create_model("b", tags=["x"])
    client.create_model("c", tags=["x", "y"])
    client.create_model("d", tags=["y"])
    client.update_model("c", remove_tags=["x"])
    client.update_model("d", add_tags=["x"], name="a")  # one event: renamed and tagged
    client.update_model("b", name="z")
    assert _names(client.list_models(tag="x")) == ["a", "z"]
    assert _names(client.list_models(tag="y")) == ["a", "c"]
    client.delete_model("a")
    assert _names(client.list_models(tag="x")) == ["z"]
    assert client.list_models(tag="y").total == 1
    again = client.create_model("a", tags=["y"])  # the name again: a new model, its own tags
    assert [m.id for m in client.list_models(tag="y")] == [again.id, client.get_model("c").id]
    assert client.list_models(tag="x").total == 1
    with store_of(client).engine.connect() as conn:
        live = dump_tables(conn)
    client.rebuild_projections()
    with store_of(client).engine.connect() as conn:
        assert dump_tables(conn) == live
    assert _names(client.list_models(tag="x")) == ["z"]


def test_versions_by_tag_newest_first_through_edits_and_deletions(client: Client) -> None:
    client.create_model("iris")
    for k in range(1, 8):
        client.create_model_version("iris", tags=["all", "tenth"] if k % 3 == 0 else ["all"])
    client.create_model("other")
    client.create_model_version("other", tags=["tenth"])
    tagged = client.list_model_versions("iris", tag="tenth")
    assert [v.number for v in tagged] == [6, 3] and tagged.total == 2
    client.update_model_version("iris", 7, add_tags=["tenth"])
    client.update_model_version("iris", 3, remove_tags=["tenth"], name="three")
    client.delete_model_version(client.get_model_version("iris", "6").id)
    first = client.list_model_versions("iris", tag="all", size=3)
    assert [v.number for v in first] == [7, 5, 4] and first.total == 6
    rest = client.list_model_versions("iris", tag="all", size=3, cursor=first.next_cursor)
    assert [v.name for v in rest] == ["three", "2", "1"] and rest.next_cursor is None
    by_number = client.list_model_versions("iris", tag="all", page=2, size=3)
    assert [v.name for v in by_number] == ["three", "2", "1"] and by_number.index == 2
    assert client.list_model_versions("iris", tag="all", page=3, size=3).items == []
    assert [v.number for v in client.list_model_versions("iris", tag="tenth")] == [7]
    client.update_model_version("iris", 7, stage="staging")
    staged = client.list_model_versions("iris", tag="tenth", stage="staging")
    assert [v.number for v in staged] == [7] and staged.total == 1
    assert client.list_model_versions("iris", tag="tenth", stage="production").total == 0
    assert client.list_model_versions("iris", tag="all", name="thr").total == 1
    client.delete_model("other")
    client.create_model("other")
    assert client.list_model_versions("other", tag="tenth").total == 0


def test_tag_rows_fold_the_same_in_one_batch_as_one_by_one(client: Client) -> None:
    """A rebuild folds many events per batch: a rename and tag edits of one model in the
    same batch must leave the rows the inline folds left."""
    client.create_model("m", tags=["a"])
    client.create_model_version("m", tags=["v"])
    name = "m"
    for k in range(3):
        client.update_model(name, add_tags=[f"t{k}"], remove_tags=["a"] if k == 0 else None)
        client.update_model(name, name=f"m{k}")
        name = f"m{k}"
        client.update_model_version(name, 1, add_tags=[f"v{k}"], name=f"n{k}")
    with store_of(client).engine.connect() as conn:
        live = dump_tables(conn)
    assert sorted(r[2] for r in live["mp_model_tags"]) == ["t0", "t1", "t2"]
    assert {r[3] for r in live["mp_model_tags"]} == {"m2"}
    assert sorted(r[2] for r in live["mp_version_tags"]) == ["v", "v0", "v1", "v2"]
    client.rebuild_projections()
    with store_of(client).engine.connect() as conn:
        assert dump_tables(conn) == live
    assert _names(client.list_models(tag="t1")) == ["m2"]

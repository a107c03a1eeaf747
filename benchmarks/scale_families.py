"""The scale families: one store each, grown in bulk to each size and measured there.

Each family grows one kind of history (versions of one model, models, a mixed log, archived
versions, versions of one artifact, named versions) and times, at every size, the SDK reads
and writes whose cost could grow with that history. Reads go through ``Client`` (and the CLI,
as processes) on the store the seeder grew; writes are SDK calls too, so their maximum
shows the snapshot a write takes every 200th event of an aggregate.

A size is a count of the family's subject (versions, models, archived versions...); the
``events`` family's sizes are counts of events. Nothing is asserted on timings; a few checks
on what a read returned make sure a broken query cannot pass for a fast one.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, ClassVar
from uuid import UUID

import scale_store
from peers._common import log, peak_rss_mb, run_json_child, time_subprocess
from scale_seed import STAGE_PRODUCTION, BulkSeeder

HERE = Path(__file__).resolve().parent
METRICS = {"evaluation_metrics": {"accuracy": 0.9, "f1": 0.8}}


@dataclass(frozen=True)
class Params:
    """How much each measurement samples."""

    #: timed calls per read (fewer when a read is slow: see :func:`read`)
    reads: int = 50
    #: timed calls per write; 210 so that every write kind crosses a snapshot (every 200th
    #: event of an aggregate) at least once and its maximum shows that write
    writes: int = 210
    #: fresh processes per CLI figure
    process_runs: int = 3
    #: a family stops growing once its store passes this (snapshots can grow quadratically)
    max_store_bytes: int = 4 * 1024**3
    #: seconds a read may spend on its samples before it stops (at least 3 are taken)
    read_budget_s: float = 10.0


class StoreTooBig(Exception):
    """The family's store passed ``Params.max_store_bytes`` while growing."""


# ------------------------------------------------------------------ measurement


def _stats(samples: list[float]) -> dict[str, Any]:
    data = sorted(samples)
    mid = len(data) // 2
    median = data[mid] if len(data) % 2 else (data[mid - 1] + data[mid]) / 2
    p95 = data[min(len(data) - 1, math.ceil(0.95 * len(data)) - 1)]
    return {"n": len(data), "median_ms": median, "p95_ms": p95, "max_ms": data[-1]}


def read(
    fn: Callable[[], Any], params: Params, check: Callable[[Any], None] | None = None
) -> dict[str, Any]:
    """Time ``fn`` (after one untimed warm-up call) up to ``params.reads`` times; with the
    number of rows it returned, when it returns a page or list (see ``scale.family_table``)."""
    value = fn()
    if check is not None:
        check(value)
    samples: list[float] = []
    spent = 0.0
    while len(samples) < params.reads and (len(samples) < 3 or spent < params.read_budget_s):
        start = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - start
        spent += elapsed
        samples.append(elapsed * 1000.0)
    rows = len(value) if hasattr(value, "__len__") else None
    return {"kind": "read", **_stats(samples), "rows": rows}


def writes(calls: list[Callable[[], Any]]) -> tuple[dict[str, Any], list[Any]]:
    """Time each call once, in order; the figures and what the calls returned."""
    samples: list[float] = []
    results = []
    for call in calls:
        start = time.perf_counter()
        results.append(call())
        samples.append((time.perf_counter() - start) * 1000.0)
    worst = sorted(range(len(samples)), key=samples.__getitem__, reverse=True)[:3]
    slowest = [{"call": i, "ms": samples[i]} for i in worst]
    return {"kind": "write", **_stats(samples), "slowest": slowest}, results


def process(argv: list[str], runs: int, expect: str | None = None) -> dict[str, Any]:
    """Wall time of fresh processes (a failing one is an error, not a sample)."""
    try:
        samples = time_subprocess(argv, runs, expect=expect)
    except RuntimeError as exc:
        return {"kind": "process", "error": str(exc)[:500]}
    return {"kind": "process", **_stats(samples)}


def cli(*args: str) -> list[str]:
    return [str(Path(sys.executable).parent / "modelplane"), *args]


def _check_len(expected: int) -> Callable[[Any], None]:
    def check(page: Any) -> None:
        if len(page) != expected:
            raise AssertionError(f"expected {expected} rows, got {len(page)}")

    return check


# --------------------------------------------------------------------- families


class Family:
    """One store, grown to each size in turn; subclasses say how, and what is measured."""

    name: ClassVar[str] = ""
    #: what a size counts, for the table
    axis: ClassVar[str] = ""
    #: what the issue calls these curves
    about: ClassVar[str] = ""

    def __init__(self, client: Any, seeder: BulkSeeder, params: Params) -> None:
        self.client = client
        self.seeder = seeder
        self.params = params
        #: the size reached so far: subjects seeded plus those the measured writes added
        self.count = 0
        #: subjects the seeder made (their names are numbered by this)
        self.seeded = 0
        seeder.on_flush = self._budget
        self._flushes = 0

    def _budget(self, _events: int) -> None:
        self._flushes += 1
        if self._flushes % 20 == 0 and scale_store.store_bytes() > self.params.max_store_bytes:
            raise StoreTooBig(
                f"store over {self.params.max_store_bytes / 1024**3:.1f} GB "
                f"at {self.count:,} {self.axis}"
            )

    def grow(self, size: int) -> None:
        raise NotImplementedError

    def measure(self, size: int) -> dict[str, Any]:
        raise NotImplementedError

    def _stage(self) -> Any:
        from modelplane.enums import ModelStages

        return ModelStages.PRODUCTION

    def _holder(self, model: Any) -> Any:
        """The version aggregate in production, or None."""
        holder = model.holder(STAGE_PRODUCTION)
        return None if holder is None else self.seeder.get(UUID(holder))


class Versions(Family):
    """One model, ``big``, with N live versions (every 10th tagged ``tenth``; every 100th
    promoted to production, archiving the one before)."""

    name = "versions"
    axis = "versions of one model"
    about = "reads with N versions in the store; writes; latest at an early position"

    model_id: UUID | None = None
    early: int = 0

    def grow(self, size: int) -> None:
        if self.model_id is None:
            model = self.seeder.model("big", tags=["scale"])
            self.model_id = model.id
            first = self.seeder.version(model, tags=["all"])
            self.seeder.promote(model, first, None, STAGE_PRODUCTION)
            self.count = 1
            self.seeder.flush()
            self.early = self.seeder.last_position  # version 1 only: "early in the log"
        model = self.seeder.get(self.model_id)
        previous = self._holder(model)
        while self.count < size:
            number = model.last_number + 1
            tags = ["all", "tenth"] if number % 10 == 0 else ["all"]
            version = self.seeder.version(model, tags=tags)
            self.count += 1
            if number % 100 == 0 or previous is None:
                self.seeder.promote(model, version, previous, STAGE_PRODUCTION)
                previous = version
        self.seeder.flush()

    def measure(self, size: int) -> dict[str, Any]:
        c, p = self.client, self.params
        out: dict[str, Any] = {}
        page_rows = min(100, self.count)
        last_page = max(1, math.ceil(self.count / 100))
        last_rows = self.count - (last_page - 1) * 100
        out["get_model"] = read(lambda: c.get_model("big"), p)
        out["list_models_first_page"] = read(lambda: c.list_models(size=50), p)
        out["get_by_stage"] = read(lambda: c.get_model_version("big", self._stage()), p)
        out["versions_first_page"] = read(
            lambda: c.list_model_versions("big", size=100), p, _check_len(page_rows)
        )
        out["versions_last_page"] = read(
            lambda: c.list_model_versions("big", page=last_page, size=100),
            p,
            _check_len(last_rows),
        )
        out["versions_tag_page"] = read(
            lambda: c.list_model_versions("big", tag="tenth", size=100), p
        )
        out["versions_stage_page"] = read(
            lambda: c.list_model_versions("big", stage="archived", size=100), p
        )
        out["latest_at_early_position"] = read(
            lambda: c.get_model_version("big", None, at=self.early), p
        )
        n = p.writes
        out["create_version"], created = writes(
            [lambda: c.create_model_version("big") for _ in range(n)]
        )
        stage = self._stage()
        out["promote_force"], _ = writes(
            [
                partial(c.update_model_version, "big", str(v.number), stage=stage, force=True)
                for v in created[n // 2 :]
            ]
        )
        out["delete_version"], _ = writes(
            [partial(c.delete_model_version, v.id) for v in created[: n // 2]]
        )
        self.count += n - n // 2
        return out


class Models(Family):
    """N models, each with one version (every 10th model tagged ``tenth``)."""

    name = "models"
    axis = "models"
    about = "reads with N models: get_model_version at=<position>, list_models pages, CLI"

    head: int = 0

    def grow(self, size: int) -> None:
        while self.count < size:
            tags = ["scale", "tenth"] if self.seeded % 10 == 0 else ["scale"]
            model = self.seeder.model(f"m{self.seeded:07d}", tags=tags)
            self.seeder.version(model)
            self.seeded += 1
            self.count += 1
        self.seeder.flush()
        self.head = self.seeder.last_position

    def measure(self, size: int) -> dict[str, Any]:
        c, p = self.client, self.params
        out: dict[str, Any] = {}
        mid = f"m{self.seeded // 2:07d}"
        last_page = max(1, math.ceil(self.count / 50))
        out["get_model"] = read(lambda: c.get_model(mid), p)
        out["get_version"] = read(lambda: c.get_model_version(mid, "1"), p)
        out["get_version_at_position"] = read(
            lambda: c.get_model_version(mid, "1", at=self.head), p
        )
        out["list_models_first_page"] = read(
            lambda: c.list_models(size=50), p, _check_len(50) if self.count >= 50 else None
        )
        out["list_models_last_page"] = read(lambda: c.list_models(page=last_page, size=50), p)
        out["list_models_tag_page"] = read(lambda: c.list_models(tag="tenth", size=50), p)
        out["cli_model_list"] = process(cli("model", "list"), p.process_runs, expect="m0000000")
        out["create_model"], _ = writes(
            [
                partial(c.create_model, f"w{size}-{k}", license="MIT", tags=["a"])
                for k in range(p.writes)
            ]
        )
        self.count += p.writes
        return out


class Events(Family):
    """A mixed log of N events: models of 20 versions, metadata on each, every 4th promoted
    (about 81 events a model), like the replay seed."""

    name = "events"
    axis = "events"
    about = "at=<datetime> with N events; replay; first process after a read-table upgrade"

    models = 0

    def grow(self, size: int) -> None:
        have = scale_store.events()
        while have < size:
            units = max(1, math.ceil((size - have) / 81))
            for _ in range(units):
                self._unit()
            self.seeder.flush()
            have = scale_store.events()
        self.count = have

    def _unit(self) -> None:
        s = self.seeder
        model = s.model(f"e{self.models:06d}", tags=["events"])
        self.models += 1
        previous = None
        for k in range(1, 21):
            version = s.version(model)
            s.metadata(version, METRICS)
            if k % 4 == 0:
                s.promote(model, version, previous, STAGE_PRODUCTION)
                previous = version

    def measure(self, size: int) -> dict[str, Any]:
        c, p = self.client, self.params
        out: dict[str, Any] = {}
        head = self.seeder.last_position
        middle = c.list_events(after=head // 2, limit=1)[0]
        moment, position = middle.timestamp, middle.position
        stage = self._stage()
        first = "e000000"
        out["get_by_stage"] = read(lambda: c.get_model_version(first, stage), p)
        out["at_datetime"] = read(lambda: c.get_model_version(first, stage, at=moment), p)
        out["at_position"] = read(lambda: c.get_model_version(first, stage, at=position), p)
        out["versions_first_page"] = read(lambda: c.list_model_versions(first, size=100), p)
        out["list_models_first_page"] = read(lambda: c.list_models(size=50), p)
        out["cli_model_list"] = process(cli("model", "list"), p.process_runs, expect=first)
        out["cli_model_list_after_upgrade"] = self._after_upgrade(first)
        out["replay"] = self._replay()
        out["create_version"], created = writes(
            [lambda: c.create_model_version(first) for _ in range(p.writes)]
        )
        out["promote_force"], _ = writes(
            [
                partial(c.update_model_version, first, str(v.number), stage=stage, force=True)
                for v in created[: p.writes // 2]
            ]
        )
        return out

    def _after_upgrade(self, expect: str) -> dict[str, Any]:
        """``modelplane model list`` in the first process after the read tables went stale:
        it rebuilds them from the log before it can answer."""
        samples: list[float] = []
        for _ in range(max(1, self.params.process_runs - 1)):
            scale_store.make_read_tables_stale()
            figure = process(cli("model", "list"), 1, expect=expect)
            if "error" in figure:
                return figure
            samples.append(figure["median_ms"])
        return {"kind": "process", **_stats(samples)}

    def _replay(self) -> dict[str, Any]:
        """Rebuild the read tables in a fresh process: events/s and that process's peak RSS."""
        me = [sys.executable, str(HERE / "bench_modelplane.py"), "--phase", "replay"]
        child = run_json_child(me, HERE / "results" / f"scale-replay-{time.time_ns()}.tmp")
        if child.result is None:
            return {"kind": "replay", "error": f"exit code {child.returncode}"}
        seconds = float(child.result["rebuild_s"])
        events = scale_store.events()
        return {
            "kind": "replay",
            "events": events,
            "rebuild_s": seconds,
            "events_per_s": events / seconds if seconds else None,
            "peak_rss_mb": child.peak_rss_mb,
        }


class Archived(Family):
    """One model, ``arch``: each new version is promoted to production, archiving the last."""

    name = "archived"
    axis = "archived versions"
    about = "snapshot bytes and write spikes with N archived; stage history; stage= filter"

    model_id: UUID | None = None

    def grow(self, size: int) -> None:
        if self.model_id is None:
            self.model_id = self.seeder.model("arch", tags=["scale"]).id
        model = self.seeder.get(self.model_id)
        previous = self._holder(model)
        while self.count < size:
            version = self.seeder.version(model)
            self.seeder.promote(model, version, previous, STAGE_PRODUCTION)
            previous = version
            self.count += 1
        self.seeder.flush()

    def measure(self, size: int) -> dict[str, Any]:
        c, p = self.client, self.params
        out: dict[str, Any] = {}
        stage = self._stage()
        out["get_by_stage"] = read(lambda: c.get_model_version("arch", stage), p)
        # the history a page at a time (the whole of it is as long as the history): the
        # first page, and the last page found by its position
        history = c.get_stage_history("arch")  # untimed: where the last page starts
        page = min(100, len(history))
        tail = history[-page - 1].position if len(history) > page else 0
        out["stage_history_first_page"] = read(
            lambda: c.get_stage_history("arch", limit=100), p, _check_len(page)
        )
        out["stage_history_last_page"] = read(
            lambda: c.get_stage_history("arch", after=tail, limit=100), p, _check_len(page)
        )
        out["versions_stage_page"] = read(
            lambda: c.list_model_versions("arch", stage="archived", size=100),
            p,
            _check_len(min(100, self.count - 1)),
        )
        out["cli_history_json_page"] = process(
            cli("model", "history", "arch", "--json", "--after", str(tail), "--limit", "100"),
            p.process_runs,
            expect="production",
        )
        out["create_version"], created = writes(
            [lambda: c.create_model_version("arch") for _ in range(p.writes)]
        )
        out["promote_force"], _ = writes(
            [
                partial(c.update_model_version, "arch", str(v.number), stage=stage, force=True)
                for v in created
            ]
        )
        self.count += p.writes
        return out


class ArtifactVersions(Family):
    """One artifact name, ``art``, with N versions."""

    name = "artifact"
    axis = "versions of one artifact"
    about = "snapshot bytes and write spikes with N versions of one artifact name"

    item_id: UUID | None = None

    def grow(self, size: int) -> None:
        if self.item_id is None:
            self.item_id = self.seeder.artifact("art").id
        item = self.seeder.get(self.item_id)
        while self.count < size:
            self.seeder.artifact_version(item, self.seeded)
            self.seeded += 1
            self.count += 1
        self.seeder.flush()

    def measure(self, size: int) -> dict[str, Any]:
        from modelplane.artifacts.utils import save_artifact

        c, p = self.client, self.params
        out: dict[str, Any] = {}
        out["get_artifact_version"] = read(lambda: c.get_artifact_version("art"), p)
        out["save_artifact"], _ = writes(
            [partial(save_artifact, "art", {"size": size, "k": k}) for k in range(p.writes)]
        )
        self.count += p.writes
        return out


class NamedVersions(Family):
    """One model, ``named``, with N versions under custom names (``v1``, ``v2`` ...)."""

    name = "named"
    axis = "named versions of one model"
    about = "snapshot bytes and write spikes with N custom-named versions"

    model_id: UUID | None = None

    def grow(self, size: int) -> None:
        if self.model_id is None:
            self.model_id = self.seeder.model("named", tags=["scale"]).id
        model = self.seeder.get(self.model_id)
        while self.count < size:
            self.seeded += 1
            self.seeder.version(model, name=f"v{self.seeded}")
            self.count += 1
        self.seeder.flush()

    def measure(self, size: int) -> dict[str, Any]:
        c, p = self.client, self.params
        out: dict[str, Any] = {}
        mid = f"v{max(1, self.seeded // 2)}"
        out["get_version_by_name"] = read(lambda: c.get_model_version("named", mid), p)
        out["create_named_version"], _ = writes(
            [partial(c.create_model_version, "named", name=f"w{size}-{k}") for k in range(p.writes)]
        )
        self.count += p.writes
        return out


FAMILIES: dict[str, type[Family]] = {
    f.name: f for f in (Versions, Models, Events, Archived, ArtifactVersions, NamedVersions)
}


def run_family(name: str, sizes: list[int], params: Params) -> dict[str, Any]:
    """Child body: grow the family's fresh store to each size, measuring at each."""
    from modelplane import config
    from modelplane.client import Client
    from modelplane.store_handle import Store

    client = Client()
    client.list_models(size=1)  # creates the store: not part of any figure
    empty_bytes = scale_store.store_bytes_compact()
    seeder = BulkSeeder(Store.current().registry, config.actor())
    family = FAMILIES[name](client, seeder, params)
    points: list[dict[str, Any]] = []
    for size in sizes:
        log(f"{name}: growing to {size:,} {family.axis}")
        before_events, before_s = seeder.events, seeder.seconds
        start = time.perf_counter()
        try:
            family.grow(size)
        except StoreTooBig as exc:
            points.append({"size": size, "skipped": str(exc)})
            log(f"{name}: stopped growing: {exc}")
            break
        seed_s = time.perf_counter() - start
        scale_store.refresh_statistics()  # as autovacuum would have (see there)
        seeded = seeder.events - before_events
        save_s = seeder.seconds - before_s
        log(f"{name}: {seeded:,} events seeded in {seed_s:.1f} s; measuring")
        reached = family.count
        # the grown store, before the measured writes add to it
        store = scale_store.figures(empty_bytes)
        metrics = family.measure(size)
        points.append(
            {
                "size": size,
                "reached": reached,
                "seeded_events": seeded,
                "seed_s": seed_s,
                "seed_events_per_s": seeded / seed_s if seed_s else None,
                "save_events_per_s": seeded / save_s if save_s else None,
                "metrics": metrics,
                "store": store,
                "peak_rss_mb": peak_rss_mb(),
            }
        )
    return {"family": name, "axis": family.axis, "about": family.about, "points": points}

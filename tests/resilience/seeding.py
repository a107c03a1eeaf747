"""Growing a store quickly for the resilience tests: many aggregates per ``Registry.save``.

One SDK call per event seeds about 1,500 events/s; the upgrade tests need tens of thousands
of events so that a build takes long enough to read, write and kill processes during it.
The aggregates' own commands trigger the same events (and checks) as the SDK's, a few
models' worth saved in one transaction that folds them inline like any write.
"""

from __future__ import annotations

from typing import Any

ACTOR = "seeder"


def seed(registry: Any, models: int, versions: int = 20, models_per_save: int = 10) -> int:
    """Register ``models`` models of ``versions`` versions, metadata on each, every 4th
    promoted to production (about 81 events a model at 20 versions); return the log head."""
    from modelplane.domain.model import Model, ModelName
    from modelplane.domain.validation import encode_metadata

    pending: dict[Any, Any] = {}
    head = 0
    for i in range(models):
        index = ModelName(name=f"seeded{i:05d}")
        model = Model.register(index, fields={"license": "MIT"}, tags=["seed"], actor=ACTOR)
        pending[index.id] = index
        pending[model.id] = model
        previous = None
        for k in range(1, versions + 1):
            version = model.add_version(actor=ACTOR)
            pending[version.id] = version
            version.log_metadata(encode_metadata({"acc": k / 100}), actor=ACTOR)
            if k % 4 == 0:
                model.promote(version, "production", displaced=previous, force=True, actor=ACTOR)
                previous = version
        if (i + 1) % models_per_save == 0 or i == models - 1:
            recordings = registry.save(*pending.values())
            head = int(recordings[-1].notification.id)
            pending.clear()
            touched = getattr(registry, "_touched", None)
            if isinstance(touched, set):  # no command ran: nothing to evict on failure
                touched.clear()
    return head

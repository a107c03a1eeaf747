"""The write side of modelplane: aggregates, their events and the application service.

Nothing here knows about SQL tables, HTTP or the SDK: commands come in, events go out to
the eventsourcing library's event store. Each rule is checked by the aggregate that owns it,
in a public command method that raises a domain error (``errors.py``) before triggering any
event: ``Model`` numbers versions, keeps custom version names unique and one holder per
exclusive stage; ``ModelName`` keeps a model name to one live model; ``ModelVersion``,
``Artifact`` and ``PipelineRun`` refuse commands on what was deleted, is unknown or ended.
Arguments are checked in ``names.py``, ``validation.py`` and ``stages.py``. ``registry.py``
is the application service (load, call the aggregate, save in one transaction), and
``retrying.py`` re-runs a command that lost an optimistic-concurrency race.
"""

"""The write side of modelplane: aggregates, their events and the application service.

Nothing here knows about SQL tables, HTTP or the SDK: commands come in, events go out to
the eventsourcing library's event store, and every invariant is checked on the aggregate
that owns it.
"""

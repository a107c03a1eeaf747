"""The read side: SQL tables folded from the event log, and the queries over them.

Each projection owns a few tables and one tracking row (the last log position it has
applied). Writes fold new events inline, inside the same transaction as the events, so every
read sees the writer's own changes and a crash can neither lose nor double-apply an event.
"""

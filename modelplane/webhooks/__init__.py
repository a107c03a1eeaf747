"""Durable webhooks: the log's events posted to registered URLs, at least once, in order.

A webhook is registered by an event (``domain/webhooks.py``), so every process learns of it
from the log; its signing secret is kept beside the log (``tables.py``). Every server process
runs a deliverer (``deliverer.py``) that reads the log after each webhook's own position,
kept in the database, and posts one event at a time, signed (``signing.py``); a lease row per
webhook makes one process at a time its deliverer. ``registrations.py`` holds the use cases
the backends call; ``responses.py`` what they answer.
"""

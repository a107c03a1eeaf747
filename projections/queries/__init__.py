"""Queries over the read tables: everything the SDK, CLI and API read, split by what they answer.

Only SQLAlchemy Core, the table definitions and ``modelplane.domain`` are imported here, so a
process that only reads (``modelplane model list``) never loads the event-sourcing machinery.
"""

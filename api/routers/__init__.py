"""One router per resource, each a thin wrapper over the use cases of ``LocalBackend``."""

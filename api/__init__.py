"""The HTTP service (FastAPI) and the dashboard; built on ``domain`` and ``projections``."""

"""Fast tests of the domain alone: aggregates and the registry on in-memory persistence."""

"""Ground floor: errors, the component registry, atomic writes and provenance (imports nothing of the project)."""

"""Migration scripts, oldest first (``revision`` / ``down_revision`` link them)."""

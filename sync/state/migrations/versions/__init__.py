"""State store schema revisions, oldest first."""

"""mappings package (see DESIGN.md)."""

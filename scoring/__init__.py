"""scoring package (see DESIGN.md)."""

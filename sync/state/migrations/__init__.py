"""Alembic environment of the state store (package data: a fresh install migrates itself)."""

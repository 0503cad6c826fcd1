"""Tests of the scoring package."""

"""Sanctions lists: parsers for every official format, one normalized entry model, versions and deltas."""

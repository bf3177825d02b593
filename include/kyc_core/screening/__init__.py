"""Sanctions screening engine: normalization, pairwise matching, candidate index, judgements."""

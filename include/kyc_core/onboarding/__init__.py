"""Onboarding: the assessment of a registered customer (registers, resolution, screening, score, decision)."""

"""Onboarding: the validated request, customer registration and (later stages) the decision pipeline."""

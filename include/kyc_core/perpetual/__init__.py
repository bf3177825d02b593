"""Perpetual KYC: periodic and event-driven re-reviews of the book through the onboarding assessment.

`selection` picks the customers a run reviews (due at their risk cadence, or flagged) and splits them into
batches; `review` assesses one batch and summarises a run. Import the modules themselves: this package
imports nothing, so the CLI's selection commands do not load the assessment.
"""

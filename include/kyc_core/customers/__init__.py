"""Customers: the onboarding request models, registration, and the one builder of who is screened for a customer."""

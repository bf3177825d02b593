"""Airflow adapters for the KYC core, shaped like a provider package (hooks, operators, notifiers)."""

__version__ = "0.1.0"

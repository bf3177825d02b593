"""Hooks turn Connections into what the core needs, and the provider registers their types."""

from __future__ import annotations

import json

import pytest
from kyc_airflow.get_provider_info import get_provider_info
from kyc_airflow.hooks.kyc_db import KycDatabaseHook
from kyc_airflow.hooks.sources import BodaccHook, RneHook, SireneHook


def test_url_extra_wins(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_KYC_DB", json.dumps({"conn_type": "kyc_database", "extra": {"url": "sqlite:////tmp/k.db"}}))
    assert KycDatabaseHook().get_uri() == "sqlite:////tmp/k.db"


def test_postgres_fields_build_a_psycopg_url(monkeypatch):
    conn = {"conn_type": "postgres", "host": "db", "port": 5433, "login": "app", "password": "p@ss/w", "schema": "kyc"}
    monkeypatch.setenv("AIRFLOW_CONN_OTHER", json.dumps(conn))
    assert KycDatabaseHook("other").get_uri() == "postgresql+psycopg://app:p%40ss%2Fw@db:5433/kyc"


def test_source_hooks_read_base_url_and_secret(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_KYC_SIRENE", json.dumps({"conn_type": "insee_sirene", "host": "http://127.0.0.1:9/sirene/", "password": "k"}))
    monkeypatch.setenv("AIRFLOW_CONN_KYC_RNE", json.dumps({"conn_type": "inpi_rne", "host": "rne.example", "login": "u", "password": "p"}))
    assert SireneHook().get_endpoint().base_url == "http://127.0.0.1:9/sirene"
    assert SireneHook().get_endpoint().secret == "k"
    rne = RneHook().get_endpoint()
    assert (rne.base_url, rne.login, rne.secret) == ("https://rne.example", "u", "p")


def test_missing_host_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_KYC_BODACC", json.dumps({"conn_type": "bodacc"}))
    with pytest.raises(ValueError, match="no host"):
        BodaccHook().get_endpoint()


def test_provider_registers_every_connection_type():
    from airflow.providers_manager import ProvidersManager

    info = get_provider_info()
    types = {c["connection-type"] for c in info["connection-types"]}
    assert {"kyc_database", "insee_sirene", "inpi_rne", "bodacc", "sanctions_list"} <= types
    manager = ProvidersManager()
    assert "kyc-edd-airflow" in manager.providers
    for conn in info["connection-types"]:
        module, _, cls = conn["hook-class-name"].rpartition(".")
        hook = getattr(__import__(module, fromlist=[cls]), cls)
        assert hook.conn_type == conn["connection-type"]

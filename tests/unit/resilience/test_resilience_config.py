"""Per-source defaults and overrides of the resilience settings."""

from __future__ import annotations

import pytest
from kyc_core.errors import UserError
from kyc_core.resilience.cache import CacheEntry, decode_entry, encode_entry, request_hash
from kyc_core.resilience.config import DAY, HOUR, PriceTier, SourceConfig, load_source_config


def test_defaults_follow_the_design(monkeypatch):
    monkeypatch.delenv("KYC_SOURCE_CONFIG", raising=False)
    sirene, rne, rbe = load_source_config("sirene"), load_source_config("rne"), load_source_config("rbe")
    assert (sirene.rate_limit, sirene.rate_window_s, sirene.cache_ttl_s, sirene.is_paid) == (
        30,
        60,
        DAY,
        False,
    )
    assert (sirene.failure_threshold, sirene.reset_timeout_s) == (5, 60.0)
    assert (sirene.retry_attempts, sirene.retry_initial_s, sirene.retry_max_s) == (3, 1.0, 60.0)
    assert rne.cache_ttl_s == DAY and rne.price_tiers == (PriceTier(0, 0.02), PriceTier(50_000, 0.015))
    assert rbe.cache_ttl_s == 7 * DAY and rbe.price_tiers == (PriceTier(0, 0.05), PriceTier(20_000, 0.03))
    assert load_source_config("bodacc").price_of(1) == 0.01
    assert all(load_source_config(name).cache_ttl_s <= HOUR for name in ("ofac", "eu", "un"))


def test_tier_price_changes_after_the_threshold():
    rne = load_source_config("rne")
    assert [rne.price_of(n) for n in (1, 50_000, 50_001)] == [0.02, 0.02, 0.015]
    assert SourceConfig().price_of(1) == 0.0


def test_environment_overrides_apply_to_all_then_to_the_named_source(monkeypatch):
    monkeypatch.setenv(
        "KYC_SOURCE_CONFIG",
        '{"*": {"retry_initial_s": 0.01, "failure_threshold": 9}, "sirene": {"rate_limit": 5, "failure_threshold": 2}}',
    )
    sirene, bodacc = load_source_config("sirene"), load_source_config("bodacc")
    assert (sirene.rate_limit, sirene.failure_threshold, sirene.retry_initial_s) == (5, 2, 0.01)
    assert (bodacc.rate_limit, bodacc.failure_threshold, bodacc.retry_initial_s) == (None, 9, 0.01)


def test_dict_overrides_win_over_the_environment_and_parse_tiers(monkeypatch):
    monkeypatch.setenv("KYC_SOURCE_CONFIG", '{"rne": {"cache_ttl_s": 10}}')
    rne = load_source_config("rne", {"rne": {"cache_ttl_s": 20, "price_tiers": [[100, 0.01], [0, 0.03]]}})
    assert rne.cache_ttl_s == 20
    assert rne.price_tiers == (PriceTier(0, 0.03), PriceTier(100, 0.01))


@pytest.mark.parametrize(
    "raw, message",
    [
        ("{not json", "not valid JSON"),
        ('["sirene"]', "JSON object"),
        ('{"sirene": {"rate_limt": 3}}', "unknown source config field(s) for sirene: rate_limt"),
        ('{"sirene": {"failure_threshold": 0}}', "failure_threshold must be >= 1 for sirene"),
        ('{"sirene": {"rate_limit": 0}}', "rate_limit and rate_window_s must be >= 1"),
    ],
)
def test_bad_overrides_are_refused_with_a_clear_message(monkeypatch, raw, message):
    monkeypatch.setenv("KYC_SOURCE_CONFIG", raw)
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_source_config("sirene")


def test_cache_entry_round_trip_and_unreadable_entries():
    entry = CacheEntry(b'{"a":1}\nsecond line', 200, 1_700_000_000.5, False)
    assert decode_entry(encode_entry(entry)) == entry
    assert decode_entry(b"no header") is None
    assert decode_entry(b'{"v": 99}\npayload') is None


def test_request_hash_is_stable_and_separates_operations():
    assert request_hash("rne", "company", "552100554") == request_hash("rne", "company", "552100554")
    assert request_hash("rne", "company", "552100554") != request_hash("rne", "owners", "552100554")
    assert len(request_hash("rne", "company", "552100554")) == 64

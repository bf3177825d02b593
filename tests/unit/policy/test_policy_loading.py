"""Policy files: the shipped content, validation errors that name file and field, hashes and lineage."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import date
from pathlib import Path

import pytest
import yaml
from kyc_core.errors import UserError
from kyc_core.policy import (
    PepCategory,
    RiskLevel,
    Segment,
    Trigger,
    load_policy,
    load_policy_by_hash,
    policy_from_snapshot,
)
from kyc_core.settings import get_settings

SHIPPED = Path(__file__).resolve().parents[3] / "include" / "policies"


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    """A private copy of the shipped policy directory that a test may edit."""
    target = tmp_path / "policies"
    shutil.copytree(SHIPPED, target)
    return target


def edit(path: Path, change) -> None:
    """Apply `change` to the parsed YAML of a file and write it back."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


# --- shipped content ---------------------------------------------------------------------------


def test_settings_point_at_the_shipped_policies():
    assert get_settings().policy_dir == SHIPPED.resolve()
    assert load_policy("cgp").source_path == str(SHIPPED.resolve() / "cgp.yaml")


@pytest.mark.parametrize(("segment", "edd"), [("cgp", 0.30), ("fintech", 0.40), ("asset_mgmt", 0.20)])
def test_each_segment_has_its_edd_threshold_and_the_seed_weights(segment, edd):
    policy = load_policy(segment)
    assert policy.segment == Segment(segment)
    assert policy.spec.thresholds.edd == edd
    assert policy.spec.thresholds.review < edd
    weights = policy.spec.weights
    assert (weights.geography, weights.pep_sanctions, weights.activity, weights.structure) == (
        0.40,
        0.35,
        0.15,
        0.10,
    )
    assert policy.spec.sanctions.zero_tolerance is True
    cadence = policy.spec.review_cadence_months
    assert [cadence.months(level) for level in (RiskLevel.HIGH, RiskLevel.MEDIUM, RiskLevel.LOW)] == [
        3,
        6,
        12,
    ]
    assert policy.spec.cost.initial_risk_above == 0.30
    assert policy.spec.cost.patrimony_above_eur == 500_000
    assert policy.version == "2025.1"
    assert policy.effective_from == date(2025, 1, 1)


def test_trigger_table_differs_by_segment_as_the_seed_says():
    cgp, fintech = load_policy("cgp"), load_policy("fintech")
    assert cgp.spec.triggers[Trigger.OWNERSHIP_LEVELS].above == 3
    assert Trigger.LINKED_ENTITIES not in cgp.spec.triggers
    assert fintech.spec.triggers[Trigger.LINKED_ENTITIES].above == 5
    assert Trigger.OWNERSHIP_LEVELS not in fintech.spec.triggers
    assert cgp.spec.triggers[Trigger.PEP].documents == (
        "detailed_cv",
        "source_of_wealth",
        "conflict_of_interest_attestation",
    )


def test_mandatory_sources_per_segment():
    cgp, fintech, asset = (load_policy(s) for s in ("cgp", "fintech", "asset_mgmt"))
    for policy in (cgp, fintech, asset):
        assert set(policy.spec.sources.mandatory.person) == {"ofac_sdn", "eu_fsf", "un_sc"}
        assert {"ofac_sdn", "eu_fsf", "un_sc", "sirene", "rne"} <= set(policy.spec.sources.mandatory.entity)
    assert "rbe" in cgp.spec.sources.mandatory.entity
    assert "rbe" not in fintech.spec.sources.mandatory.entity
    assert fintech.spec.sources.optional_paid == ("rbe", "bodacc")
    assert asset.spec.sources.optional_paid == ()


def test_reference_data_is_dated_and_sourced():
    geo = load_policy("cgp").geography
    black = geo.lists["fatf_call_for_action"]
    assert set(black.countries) == {"KP", "IR", "MM"}
    assert black.as_of == date(2025, 10, 24)
    assert "fatf-gafi.org" in black.source
    assert "2016/1675" in geo.lists["eu_high_risk_third_countries"].source
    assert [key for key, _ in geo.listings("MC")] == [
        "eu_high_risk_third_countries",
        "fatf_increased_monitoring",
    ]
    assert geo.listings("FR") == []
    assert "FATF plenary" in geo.maintenance


def test_sensitive_activities_and_pep_categories():
    policy = load_policy("cgp")
    remittance = policy.activities.codes["66.19B"]
    assert (remittance.risk, remittance.triggers_edd) == (0.8, True)
    bars = policy.activities.codes["56.30Z"]
    assert (bars.cash_intensive, bars.triggers_edd) == (True, False)
    assert all(item.why for item in policy.activities.codes.values())
    assert policy.pep.risk(PepCategory.FOREIGN) == 0.9
    assert policy.pep.risk(None) == policy.pep.unspecified_category_risk == 0.9


# --- validation errors ---------------------------------------------------------------------------


def _error(policy_dir: Path, segment: str = "cgp") -> str:
    with pytest.raises(UserError) as info:
        load_policy(segment, policy_dir)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_weights_that_do_not_sum_to_one_are_refused(policy_dir):
    edit(policy_dir / "cgp.yaml", lambda d: d["weights"].update(geography=0.5))
    message = _error(policy_dir)
    assert message.startswith(f"{policy_dir / 'cgp.yaml'}: weights: ")
    assert "sum to 1.1" in message


def test_unknown_key_is_refused(policy_dir):
    edit(policy_dir / "cgp.yaml", lambda d: d["thresholds"].update(edd_typo=0.3))
    message = _error(policy_dir)
    assert f"{policy_dir / 'cgp.yaml'}: thresholds.edd_typo: Extra inputs are not permitted" == message


def test_threshold_out_of_range_is_refused(policy_dir):
    edit(policy_dir / "fintech.yaml", lambda d: d["thresholds"].update(edd=1.4))
    message = _error(policy_dir, "fintech")
    assert message.startswith(f"{policy_dir / 'fintech.yaml'}: thresholds.edd: ")
    assert "less than or equal to 1" in message


def test_sanctions_tolerance_cannot_be_relaxed(policy_dir):
    edit(policy_dir / "cgp.yaml", lambda d: d["sanctions"].update(zero_tolerance=False))
    assert "cgp.yaml: sanctions.zero_tolerance: " in _error(policy_dir)


def test_trigger_asking_for_an_undeclared_document_is_refused(policy_dir):
    edit(policy_dir / "cgp.yaml", lambda d: d["triggers"]["pep"]["documents"].append("horoscope"))
    message = _error(policy_dir)
    assert message.endswith("cgp.yaml: triggers: trigger 'pep' asks for undeclared documents ['horoscope']")


def test_counted_trigger_needs_its_limit(policy_dir):
    edit(policy_dir / "cgp.yaml", lambda d: d["triggers"]["ownership_levels"].pop("above"))
    assert _error(policy_dir).endswith(
        "cgp.yaml: triggers: trigger 'ownership_levels' needs an 'above' limit"
    )


def test_high_risk_band_must_cover_every_edd_score(policy_dir):
    edit(policy_dir / "cgp.yaml", lambda d: d["risk_bands"].update(high_from=0.35))
    assert _error(policy_dir).endswith(
        "cgp.yaml: risk_bands: high_from must not exceed thresholds.edd: a customer needing EDD is high risk"
    )


def test_unknown_source_is_refused(policy_dir):
    edit(policy_dir / "cgp.yaml", lambda d: d["sources"]["mandatory"]["entity"].append("sirenne"))
    assert "sources: unknown source 'sirenne'" in _error(policy_dir)


def test_error_in_reference_data_names_the_reference_file(policy_dir):
    edit(
        policy_dir / "reference" / "geography.yaml",
        lambda d: d["lists"]["fatf_call_for_action"]["countries"].append("XX"),
    )
    message = _error(policy_dir)
    assert message.startswith(
        f"{policy_dir / 'reference' / 'geography.yaml'}: lists.fatf_call_for_action.countries: "
    )
    assert "'XX' is not an ISO 3166-1 alpha-2 country code" in message


def test_incomplete_pep_categories_are_refused(policy_dir):
    edit(policy_dir / "reference" / "pep_categories.yaml", lambda d: d["categories"].pop("close_associate"))
    assert "pep_categories.yaml: categories: missing PEP categories ['close_associate']" in _error(policy_dir)


def test_broken_yaml_names_the_line(policy_dir):
    path = policy_dir / "cgp.yaml"
    path.write_text("segment: cgp\nweights: [0.4,\n", encoding="utf-8")
    message = _error(policy_dir)
    assert message.startswith(f"{path}: invalid YAML at line ")


def test_missing_file_unknown_segment_and_mislabelled_file(policy_dir):
    (policy_dir / "asset_mgmt.yaml").unlink()
    assert "no policy file for segment 'asset_mgmt'" in _error(policy_dir, "asset_mgmt")
    with pytest.raises(UserError, match="unknown segment 'retail'"):
        load_policy("retail", policy_dir)
    edit(policy_dir / "cgp.yaml", lambda d: d.update(segment="fintech"))
    assert "segment: file declares 'fintech', expected 'cgp'" in _error(policy_dir)


def test_policy_dir_comes_from_settings(policy_dir, monkeypatch):
    edit(policy_dir / "cgp.yaml", lambda d: d["thresholds"].update(edd=0.35))
    monkeypatch.setenv("KYC_POLICY_DIR", str(policy_dir))
    assert load_policy("cgp").spec.thresholds.edd == 0.35


# --- hashes and lineage ------------------------------------------------------------------------


def test_content_hash_is_sha256_of_canonical_policy_and_reference_content(policy_dir):
    policy = load_policy("cgp", policy_dir)
    raw = {
        "policy": yaml.safe_load((policy_dir / "cgp.yaml").read_text(encoding="utf-8")),
        "reference": {
            name: yaml.safe_load((policy_dir / "reference" / f"{stem}.yaml").read_text(encoding="utf-8"))
            for name, stem in (
                ("geography", "geography"),
                ("sensitive_activities", "naf_sensitive"),
                ("pep_categories", "pep_categories"),
            )
        },
    }
    body = json.dumps(
        raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=lambda d: d.isoformat()
    )
    assert policy.content_hash == hashlib.sha256(body.encode("utf-8")).hexdigest()
    assert len({load_policy(s, policy_dir).content_hash for s in ("cgp", "fintech", "asset_mgmt")}) == 3


def test_content_hash_ignores_comments_but_sees_every_change(policy_dir):
    path = policy_dir / "cgp.yaml"
    before = load_policy("cgp", policy_dir).content_hash
    assert load_policy("cgp", policy_dir).content_hash == before
    path.write_text("# reworded comment\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    assert load_policy("cgp", policy_dir).content_hash == before
    edit(path, lambda d: d["thresholds"].update(review=0.21))
    after_threshold = load_policy("cgp", policy_dir).content_hash
    assert after_threshold != before
    edit(
        policy_dir / "reference" / "geography.yaml",
        lambda d: d["lists"]["fatf_increased_monitoring"]["countries"].append("RU"),
    )
    assert load_policy("cgp", policy_dir).content_hash not in (before, after_threshold)


def test_archived_policy_is_found_by_its_hash_after_a_change(policy_dir):
    old = load_policy("cgp", policy_dir)
    archive = policy_dir / "archive" / "cgp-2025.1"
    archive.mkdir(parents=True)
    shutil.copy(policy_dir / "cgp.yaml", archive / "cgp.yaml")
    shutil.copytree(policy_dir / "reference", archive / "reference")
    edit(policy_dir / "cgp.yaml", lambda d: d.update(version="2026.1") or d["thresholds"].update(edd=0.35))
    new = load_policy("cgp", policy_dir)
    assert new.content_hash != old.content_hash
    found = load_policy_by_hash(old.content_hash, policy_dir)
    assert (found.version, found.spec.thresholds.edd) == ("2025.1", 0.30)
    assert found.source_path == str(archive / "cgp.yaml")
    assert load_policy_by_hash(new.content_hash, policy_dir).version == "2026.1"
    with pytest.raises(UserError, match="no policy file with content hash 00ff"):
        load_policy_by_hash("00ff", policy_dir)


def test_snapshot_rebuilds_the_same_policy_and_detects_tampering():
    policy = load_policy("fintech")
    stored = json.loads(json.dumps(policy.snapshot()))
    rebuilt = policy_from_snapshot(stored, expected_hash=policy.content_hash)
    assert rebuilt.content_hash == policy.content_hash
    assert rebuilt.spec == policy.spec
    assert rebuilt.geography == policy.geography
    stored["policy"]["thresholds"]["edd"] = 0.5
    with pytest.raises(UserError, match="differs from recorded"):
        policy_from_snapshot(stored, expected_hash=policy.content_hash)
    assert policy.lineage()["content_hash"] == policy.content_hash
    assert policy.lineage()["geography_version"] == "2025-10"

"""Where lists come from and what the refresh tells delta screening (pure functions, no services)."""

from __future__ import annotations

import pytest
from kyc_core.customers.subjects import (
    customer_subjects,
    declared_parties,
    in_book,
    split_subject,
    subject_key,
)
from kyc_core.errors import UserError
from kyc_core.lists.refresh import asset_extra
from kyc_core.lists.sources import enabled_lists, resolve_source
from kyc_core.rescreen.delta import version_ids_from_extras


def test_default_files_are_relative_to_the_base_url():
    ofac = resolve_source("ofac_sdn", "http://emu:8090/lists/")
    assert ofac.source == "ofac"
    assert [(f.name, f.url) for f in ofac.files] == [
        ("sdn.csv", "http://emu:8090/lists/ofac/api/PublicationPreview/exports/SDN.CSV"),
        ("add.csv", "http://emu:8090/lists/ofac/api/PublicationPreview/exports/ADD.CSV"),
        ("alt.csv", "http://emu:8090/lists/ofac/api/PublicationPreview/exports/ALT.CSV"),
    ]
    assert resolve_source("un_sc", "http://emu:8090/lists").files[0].url == (
        "http://emu:8090/lists/un/resources/xml/en/consolidated.xml"
    )


def test_connection_extra_overrides_urls_and_chooses_lists():
    extra = {
        "enabled": ["un_sc", "uk_fcdo"],
        "lists": {
            "un_sc": "https://scsanctions.un.org/resources/xml/en/consolidated.xml",
            "uk_fcdo": {"uk.xml": "uk/ConList.xml"},
        },
        "sources": {"uk_fcdo": "uk"},
    }
    assert enabled_lists(extra) == ["un_sc", "uk_fcdo"]
    un = resolve_source("un_sc", "http://base", extra)
    assert [(f.name, f.url) for f in un.files] == [
        ("consolidated.xml", "https://scsanctions.un.org/resources/xml/en/consolidated.xml")
    ]
    uk = resolve_source("uk_fcdo", "http://base", extra)
    assert (uk.source, uk.files[0].url) == ("uk", "http://base/uk/ConList.xml")
    assert enabled_lists(None) == ["ofac_sdn", "un_sc", "eu_fsf"]
    with pytest.raises(UserError, match="unknown sanctions list"):
        enabled_lists({"enabled": "ofac_sdn,nowhere"})


def test_asset_extra_only_when_a_list_was_activated():
    unchanged = {"list_key": "un_sc", "status": "unchanged", "version_id": 2}
    refused = {"list_key": "eu_fsf", "status": "refused", "version_id": 9}
    assert asset_extra([unchanged, refused]) is None
    activated = {
        "list_key": "ofac_sdn", "status": "activated", "version_id": 7, "previous_version_id": 1,
        "content_hash": "ab" * 32, "entry_count": 306, "added": 3, "changed": 2, "removed": 1,
    }  # fmt: skip
    extra = asset_extra([unchanged, activated, refused])
    assert extra == {
        "version_ids": [7],
        "lists": {
            "ofac_sdn": {
                "version_id": 7, "previous_version_id": 1, "content_hash": "ab" * 32,
                "entry_count": 306, "added": 3, "changed": 2, "removed": 1,
            }
        },
    }  # fmt: skip
    assert version_ids_from_extras([extra, None, {"version_ids": [3, 7]}]) == [3, 7]


def test_profile_subjects_keys_are_stable_and_role_tagged():
    profile = {
        "customer": {
            "kind": "entity",
            "siren": "552100554",
            "declared_name": "Demo SA",
            "declared_officers": [{"name": "Ana  LOPEZ", "birth_month": "1980-02", "nationality": "ESP"}],
            "declared_beneficial_owners": [
                {"name": "ana lopez", "birth_month": "1980-02", "nationality": "ES"}
            ],
        }
    }
    subjects = in_book("c-1", customer_subjects(profile, declared_parties(profile)))
    assert [split_subject(s.key)[2] for s in subjects] == ["customer", "officer", "owner"]
    officer, owner = subjects[1], subjects[2]
    # Case and spacing do not change who a person is; alpha-3 countries become alpha-2.
    assert split_subject(officer.key)[1].split(":")[1] == split_subject(owner.key)[1].split(":")[1]
    assert officer.countries == owner.countries == ("ES",)
    assert officer.birth_dates == ("1980-02",)
    assert subjects[0].subject_type == "organization"
    assert split_subject(officer.key)[:2] == ("c-1", subject_key("officer", "Ana Lopez", "1980-02"))

"""Integrity rules of list versions: quarantine limits, publisher counts, the file size cap, streamed CSV reading."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from kyc_core.errors import UserError
from kyc_core.lists.detect import parse_path
from kyc_core.lists.ofac import parse_legacy_xml
from kyc_core.lists.versions import QuarantineLimits, quarantine_problem

DEFAULT = QuarantineLimits()


@pytest.mark.parametrize(("removed", "held"), [(49, False), (50, False), (51, True)])
def test_more_than_fifty_removals_quarantine_whatever_the_list_size(removed: int, held: bool) -> None:
    assert (quarantine_problem(removed, 100_000, DEFAULT) is not None) is held


@pytest.mark.parametrize(("removed", "active", "held"), [(10, 1000, False), (11, 1000, True), (1, 100, False), (2, 100, True)])
def test_more_than_one_percent_quarantines(removed: int, active: int, held: bool) -> None:
    assert (quarantine_problem(removed, active, DEFAULT) is not None) is held


def test_no_removal_or_no_active_version_never_quarantines() -> None:
    assert quarantine_problem(0, 10, DEFAULT) is None
    assert quarantine_problem(5, 0, DEFAULT) is None


def test_the_reason_gives_the_counts_and_the_limits() -> None:
    assert quarantine_problem(449, 14973, DEFAULT) == (
        "would remove 449 of the 14973 active entries (3.00 %; quarantine above 50 entries or 1 %)"
    )


def test_limits_come_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("KYC_LIST_QUARANTINE_MAX_REMOVED", "5")
    monkeypatch.setenv("KYC_LIST_QUARANTINE_MAX_REMOVED_PCT", "50")
    limits = QuarantineLimits.from_settings()
    assert limits == QuarantineLimits(5, 50.0)
    assert quarantine_problem(5, 10, limits) is None
    assert quarantine_problem(6, 100, limits) is not None


def test_publisher_record_count_matches_on_the_real_legacy_xml(shared_data: Path) -> None:
    path = shared_data / "real/ofac/legacy_xml/ofac_non_sdn.xml"
    declared = int(re.search(r"<Record_Count>(\d+)</Record_Count>", path.read_text(encoding="utf-8")).group(1))
    parsed = parse_legacy_xml(path)
    assert len(parsed.entries) == declared == 445
    assert parsed.published_at.date().isoformat() == "2023-03-08"


@pytest.mark.parametrize(
    ("sample", "published"),
    [
        ("real/un/UN_consolidated.xml", "2026-02-27"),
        ("real/eu/eu_sample.xml", "2026-08-05"),
        ("real/ofac/CONS_ENHANCED.XML", "2025-01-10"),
    ],
)
def test_publication_dates_are_read_from_the_real_samples(shared_data: Path, sample: str, published: str) -> None:
    assert parse_path(shared_data / sample).published_at.date().isoformat() == published


def test_a_record_count_mismatch_is_one_line(shared_data: Path, tmp_path: Path) -> None:
    data = (shared_data / "real/ofac/legacy_xml/ofac_non_sdn.xml").read_text(encoding="utf-8")
    padded = tmp_path / "SDN.XML"
    padded.write_text(data.replace("<Record_Count>445</Record_Count>", "<Record_Count>446</Record_Count>"), encoding="utf-8")
    with pytest.raises(UserError) as caught:
        parse_path(padded)
    assert str(caught.value) == "SDN.XML: header declares 446 records but 445 were read: file corrupted"


def test_a_file_over_the_size_cap_is_refused_before_reading(tmp_path: Path, monkeypatch) -> None:
    big = tmp_path / "sdn.csv"
    big.write_bytes(b"1," + b"x" * 2_000_001)
    with pytest.raises(UserError, match=r"^sdn\.csv: 2\.0 MB is over the 1 MB limit for a list file \(KYC_LIST_MAX_FILE_MB\)"):
        parse_path(big, max_file_mb=1)
    monkeypatch.setenv("KYC_LIST_MAX_FILE_MB", "1.5")
    with pytest.raises(UserError, match="over the 1.5 MB limit"):
        parse_path(big)


def test_the_size_cap_covers_every_file_of_the_ofac_trio(tmp_path: Path) -> None:
    (tmp_path / "sdn.csv").write_bytes(b'1,"A",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n\x1a')
    (tmp_path / "alt.csv").write_bytes(b"x" * 1_100_000)
    with pytest.raises(UserError, match=r"^alt\.csv: 1\.1 MB is over the 1 MB limit"):
        parse_path(tmp_path, max_file_mb=1)


@pytest.mark.parametrize("ending", [b"\r\n\x1a", b"\r\n\x1a\r\n", b"\x1a"])
def test_streamed_csv_accepts_every_end_marker_shape(tmp_path: Path, ending: bytes) -> None:
    rows = [f'{n},"NAME {n}",-0- ,"SDGT",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ' for n in (1, 2, 3)]
    (tmp_path / "sdn.csv").write_bytes("\r\n".join(rows).encode() + ending)
    parsed = parse_path(tmp_path)
    assert [e.native_id for e in parsed.entries] == ["1", "2", "3"]
    assert parsed.entries[-1].programmes == ("SDGT",)


def test_streamed_csv_still_refuses_a_file_without_its_end_marker(tmp_path: Path) -> None:
    (tmp_path / "sdn.csv").write_bytes(b'1,"A",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n')
    with pytest.raises(UserError, match="no end-of-file marker"):
        parse_path(tmp_path)


def test_ofac_shaped_garbage_fails_at_the_first_bad_line(tmp_path: Path) -> None:
    good = b'1,"A",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n'
    (tmp_path / "sdn.csv").write_bytes(good + b"garbage,line\r\n" * 1000 + b"\x1a")
    with pytest.raises(UserError, match="sdn.csv: line 2 has 2 columns, expected 12: file corrupted"):
        parse_path(tmp_path)


def test_a_huge_xml_text_node_is_refused_not_loaded(shared_data: Path, tmp_path: Path) -> None:
    data = (shared_data / "real/ofac/legacy_xml/ofac_non_sdn.xml").read_text(encoding="utf-8")
    hostile = tmp_path / "sdn.xml"
    hostile.write_text(data.replace("<remarks>", "<remarks>" + "word " * 2_200_000, 1), encoding="utf-8")
    with pytest.raises(UserError, match="XML is truncated or corrupted"):
        parse_path(hostile)


def test_a_line_longer_than_any_real_one_is_refused_unread(tmp_path: Path) -> None:
    good = b'1,"A",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n'
    (tmp_path / "sdn.csv").write_bytes(good + b'2,"' + b"x" * 3_000_000 + b"\r\n\x1a")
    with pytest.raises(UserError, match="sdn.csv: a line is longer than 1024 KB: file corrupted"):
        parse_path(tmp_path)

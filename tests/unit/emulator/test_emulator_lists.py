"""Emulated sanctions lists: the real file layouts, the known positives inside, a known delta between versions."""

from __future__ import annotations

import csv
import io

from kyc_dev.emulator import lists
from kyc_dev.emulator.dataset import Dataset
from lxml import etree

DATASET = Dataset(1000, seed=42)


def _rows(data: bytes) -> list[list[str]]:
    text = data.decode("utf-8")
    assert text.endswith("\r\n\x1a")
    return list(csv.reader(io.StringIO(text[:-1], newline="")))


def _local(element) -> str:
    return etree.QName(element).localname


def test_ofac_csv_trio_is_in_the_legacy_layout():
    files = lists.ofac_csv(DATASET)
    assert set(files) == {"sdn.csv", "add.csv", "alt.csv"}
    sdn = _rows(files["sdn.csv"])
    assert len(sdn) >= 300
    assert all(len(row) == 12 for row in sdn)
    assert sdn[0][0].isdigit()
    assert b"\r\n" in files["sdn.csv"] and b"\n" not in files["sdn.csv"].replace(b"\r\n", b"")
    first_line = files["sdn.csv"].split(b"\r\n")[0]
    assert b',-0- ,' in first_line and not first_line.startswith(b'"')
    individuals = [row for row in sdn if row[2] == "individual"]
    entities = [row for row in sdn if row[2] == "-0- "]
    assert individuals and entities
    assert all(", " in row[1] for row in individuals)
    assert any("] [" in row[3] for row in sdn)
    assert all(len(row) == 6 for row in _rows(files["add.csv"]))
    alt = _rows(files["alt.csv"])
    assert all(len(row) == 5 and row[2] == "aka" for row in alt)
    assert {row[0] for row in alt} <= {row[0] for row in sdn}


def test_real_ofac_parser_assumptions_hold_on_the_real_file(shared_data):
    real = (shared_data / "real/ofac/sdn.csv").read_bytes()
    ours = lists.ofac_csv(DATASET)["sdn.csv"]
    assert real.endswith(b"\r\n\x1a") and ours.endswith(b"\r\n\x1a")
    real_row = next(csv.reader(io.StringIO(real.decode("latin-1").split("\r\n")[0])))
    our_row = next(csv.reader(io.StringIO(ours.decode().split("\r\n")[0])))
    assert len(real_row) == len(our_row) == 12


def test_un_xml_has_the_consolidated_list_shape(shared_data):
    ours = etree.fromstring(lists.un_xml(DATASET))
    real = etree.parse(str(shared_data / "real/un/UN_consolidated.xml")).getroot()
    assert ours.tag == real.tag == "CONSOLIDATED_LIST"
    assert [c.tag for c in ours] == [c.tag for c in real] == ["INDIVIDUALS", "ENTITIES"]
    real_tags = {c.tag for node in real.iter("INDIVIDUAL") for c in node}
    our_tags = {c.tag for node in ours.iter("INDIVIDUAL") for c in node}
    assert our_tags <= real_tags
    assert {"DATAID", "FIRST_NAME", "SECOND_NAME", "REFERENCE_NUMBER", "INDIVIDUAL_ALIAS",
            "INDIVIDUAL_DATE_OF_BIRTH"} <= our_tags
    assert {c.tag for node in ours.iter("ENTITY") for c in node} <= {c.tag for node in real.iter("ENTITY") for c in node}


def test_eu_xml_has_the_fsf_shape(shared_data):
    ours = etree.fromstring(lists.eu_xml(DATASET))
    real = etree.parse(str(shared_data / "real/eu/eu_sample.xml")).getroot()
    assert ours.tag == real.tag == f"{{{lists.EU_NS}}}export"
    real_children = {_local(c) for e in real.iter(f"{{{lists.EU_NS}}}sanctionEntity") for c in e}
    our_entities = list(ours.iter(f"{{{lists.EU_NS}}}sanctionEntity"))
    assert len(our_entities) >= 300
    assert {_local(c) for e in our_entities for c in e} <= real_children
    real_alias_attrs = {a for n in real.iter(f"{{{lists.EU_NS}}}nameAlias") for a in n.attrib}
    our_alias_attrs = {a for n in ours.iter(f"{{{lists.EU_NS}}}nameAlias") for a in n.attrib}
    assert our_alias_attrs == real_alias_attrs
    assert set(real.attrib) == set(ours.attrib)


def test_each_known_positive_is_on_exactly_the_lists_it_names():
    by_list = {source: [e for e in lists.entries(DATASET, source) if e.positive_id] for source in lists.SOURCES}
    for positive in DATASET.known_positives(1):
        for source in lists.SOURCES:
            hits = [e for e in by_list[source] if e.positive_id == positive.positive_id]
            assert len(hits) == (1 if source in positive.lists else 0), (positive.positive_id, source)


def test_exact_positive_is_listed_under_the_register_name_and_birth_month():
    positive = next(p for p in DATASET.known_positives() if p.variant == "exact" and "ofac" in p.lists)
    person = DATASET.person(positive.siren, positive.person_id)
    sdn = _rows(lists.ofac_csv(DATASET)["sdn.csv"])
    expected_name = f"{person.last_name}, {' '.join(person.first_names)}"
    row = next(r for r in sdn if r[1] == expected_name)
    assert f"{person.birth_year}" in row[11]
    month = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")[person.birth_month - 1]
    assert f" {month} {person.birth_year}" in row[11]


def test_alias_positive_is_listed_only_under_its_alias():
    positive = next(p for p in DATASET.known_positives() if p.variant == "alias")
    person = DATASET.person(positive.siren, positive.person_id)
    entry = next(e for s in positive.lists for e in lists.entries(DATASET, s) if e.positive_id == positive.positive_id)
    assert person.last_name not in entry.last_name
    assert f"{' '.join(person.first_names)} {person.last_name}" in entry.aliases


def test_version_two_adds_changes_and_removes_a_known_set():
    for source in lists.SOURCES:
        delta = lists.expected_delta(DATASET, source)
        v2_positives = sum(1 for p in DATASET.known_positives(2) if p.version == 2 and source in p.lists)
        assert len(delta["added"]) == lists.V2_ADDED + v2_positives
        assert len(delta["removed"]) == lists.V2_REMOVED
        assert len(delta["changed"]) == lists.V2_CHANGED
    v1 = {row[0] for row in _rows(lists.ofac_csv(DATASET, 1)["sdn.csv"])}
    v2 = {row[0] for row in _rows(lists.ofac_csv(DATASET, 2)["sdn.csv"])}
    delta = lists.expected_delta(DATASET, "ofac")
    assert {int(u) for u in v2 - v1} == delta["added"]
    assert {int(u) for u in v1 - v2} == delta["removed"]


def test_lists_are_byte_identical_for_the_same_seed():
    other = Dataset(1000, seed=42)
    assert lists.ofac_csv(DATASET) == lists.ofac_csv(other)
    assert lists.un_xml(DATASET, 2) == lists.un_xml(other, 2)
    assert lists.eu_xml(DATASET) == lists.eu_xml(other)
    assert lists.un_xml(DATASET) != lists.un_xml(Dataset(1000, seed=1))

"""The persisted list index screens exactly like the one it was built from, and a damaged one is never used."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from kyc_core.screening.index import Screener
from kyc_core.screening.model import ListedParty, Subject
from kyc_core.screening.persist import KEEP_INDEXES, index_key, open_index, save_index, screener_for

from tests.unit.screening.test_screening_index import _entries, _subjects


def _keyed(hits) -> list[tuple[str, str, str, float, str]]:
    return [(h.subject_key, h.list_key, h.entry_id, round(h.score, 9), h.verdict) for h in hits]


@pytest.fixture(scope="module")
def world():
    rng = random.Random(1313)
    entries = _entries(rng, 300)
    entries.append(
        ListedParty("un_sc", "KPi.1", "person", ("RI JE-SON", "리제선"), ("1938",), ("KP",), (), "h1")
    )
    entries.append(
        ListedParty(
            "ofac_sdn", "4715", "organization", ("EJERCITO GUERRILLERO POPULAR", "EGP"), (), (), (), "h2"
        )
    )
    return entries, _subjects(rng, 120)


def test_a_saved_index_screens_exactly_like_the_built_one(tmp_path: Path, world):
    entries, subjects = world
    built = Screener(entries)
    key = index_key({"un_sc": "a", "ofac_sdn": "b"})
    save_index(built, key, tmp_path)
    loaded = open_index(key, tmp_path)
    assert loaded is not None
    assert len(loaded.entries) == len(entries) and loaded.entries[-1] == entries[-1]
    subjects = [*subjects, Subject("k", ("Ri Ju-son",), "person"), Subject("e", ("EGP",), "organization")]
    total = 0
    for subject in subjects:
        expected = _keyed(built.screen(subject))
        assert _keyed(loaded.screen(subject)) == expected, subject.names
        total += len(expected)
    assert total > 40
    # Read-only views of memory-mapped files, not unpickled objects.
    typed = next(iter(loaded.index._typed.values()))
    assert isinstance(typed.raw.codes.base, np.memmap) or isinstance(typed.raw.codes, np.memmap)
    assert not typed.raw.codes.flags.writeable


def test_the_key_follows_the_active_versions():
    assert index_key({"ofac_sdn": "a", "un_sc": "b"}) == index_key({"un_sc": "b", "ofac_sdn": "a"})
    assert index_key({"ofac_sdn": "a", "un_sc": "b"}) != index_key({"ofac_sdn": "a", "un_sc": "c"})
    assert index_key({"ofac_sdn": "a"}) != index_key({"ofac_sdn": "a", "un_sc": "b"})


def test_a_missing_index_is_built_once_then_opened(tmp_path: Path, world):
    entries, _ = world
    calls = []

    def load():
        calls.append(1)
        return entries

    first = screener_for({"ofac_sdn": "x"}, load, root=tmp_path)
    second = screener_for({"ofac_sdn": "x"}, load, root=tmp_path)
    assert calls == [1]
    assert len(first.entries) == len(second.entries) == len(entries)
    # Other versions: another index, built from the database again.
    screener_for({"ofac_sdn": "y"}, load, root=tmp_path)
    assert calls == [1, 1]


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete", "manifest"])
def test_a_corrupt_index_is_detected_removed_and_rebuilt(tmp_path: Path, world, damage):
    entries, subjects = world
    key = index_key({"ofac_sdn": "z"})
    directory = save_index(Screener(entries), key, tmp_path)
    victim = max(directory.glob("*.npy"), key=lambda p: p.stat().st_size)
    if damage == "flip":
        data = bytearray(victim.read_bytes())
        data[-1] ^= 0xFF
        victim.write_bytes(bytes(data))
    elif damage == "truncate":
        victim.write_bytes(victim.read_bytes()[:-8])
    elif damage == "delete":
        victim.unlink()
    else:
        manifest = directory / "manifest.json"
        manifest.write_text(manifest.read_text().replace(key, "0" * len(key)))
    assert open_index(key, tmp_path) is None
    assert not directory.exists()
    rebuilt = screener_for({"ofac_sdn": "z"}, lambda: entries, root=tmp_path)
    assert _keyed(rebuilt.screen(subjects[0])) == _keyed(Screener(entries).screen(subjects[0]))
    assert open_index(key, tmp_path) is not None


def test_only_the_most_recent_indexes_are_kept(tmp_path: Path, world):
    entries, _ = world
    screener = Screener(entries[:20])
    keys = [index_key({"ofac_sdn": str(n)}) for n in range(5)]
    for key in keys:
        save_index(screener, key, tmp_path)
    kept = sorted(p.name for p in tmp_path.iterdir())
    assert len(kept) == KEEP_INDEXES and keys[-1] in kept
    assert open_index(keys[-1], tmp_path) is not None

"""The list-side screening index persisted once per set of active list versions, loaded memory-mapped.

Building the index means analysing every name of every active entry (seconds for the full lists); a worker
screening a handful of names should not pay that. When a list version is activated the index is built and
written to a file cache, under a key made of the content hashes of the active versions, the matcher version
and its weights. Any worker then opens it (numpy arrays memory-mapped, strings split from one buffer, entries
decoded only when a candidate is scored); a worker that finds no index for the current key builds and writes
it itself. Every file is checked against the digest recorded in the manifest before use: a corrupt or
partial index is removed and rebuilt, never used; an index of other list versions has another key.

Layout: ``<root>/<key>/manifest.json`` and one ``.npy`` file per array. ``<root>`` is
``$KYC_SCREENING_INDEX_DIR``, else ``screening-index`` under the KYC home directory.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, overload

import numpy as np

from kyc_core.screening.compare import (
    DEFAULT_CONFIG,
    DEFAULT_THRESHOLDS,
    MATCHER_VERSION,
    MatcherConfig,
    Thresholds,
)
from kyc_core.screening.index import FuzzyVocabulary, NameIndex, Screener, _Postings, _TypedIndex
from kyc_core.screening.model import ListedParty

log = logging.getLogger(__name__)

#: Changes whenever the layout below changes (an index in an older layout is rebuilt).
FORMAT = 1
_MANIFEST = "manifest.json"
_POSTINGS = ("raw", "composite", "acronym")
_VOCABULARIES = ("raw_vocab", "loose_vocab", "skeleton_vocab", "abjad_skeleton_vocab", "composite_vocab")
_RECORDS = ("record_weight", "record_party", "record_name", "key_is_abjad")


def index_root() -> Path:
    """Directory of the persisted indexes (shared by the workers of one machine, or a shared volume)."""
    from kyc_core.settings import get_settings

    return get_settings().screening_index_dir


def index_key(list_hashes: Mapping[str, str], config: MatcherConfig = DEFAULT_CONFIG) -> str:
    """Key of the index of these active versions ({list_key: content_hash}) under this matcher."""
    payload = json.dumps(
        {
            "format": FORMAT,
            "matcher": MATCHER_VERSION,
            "config": repr(config),
            "lists": sorted(list_hashes.items()),
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:40]


class _Writer:
    """Collects the arrays of one index into a directory, with their digests."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.files: dict[str, dict[str, Any]] = {}
        self.strings: dict[str, int] = {}

    def array(self, name: str, value: np.ndarray) -> None:
        path = self.directory / f"{name}.npy"
        np.save(path, np.ascontiguousarray(value), allow_pickle=False)
        self.files[name] = {"digest": _digest(path), "bytes": path.stat().st_size}

    def strings_(self, name: str, values: Sequence[str]) -> None:
        # One buffer for a whole list: splitting it is far cheaper than decoding strings one by one.
        if any("\n" in v for v in values):
            raise ValueError(f"index strings {name} hold a line break")
        self.array(name, np.frombuffer("\n".join(values).encode(), dtype=np.uint8))
        self.strings[name] = len(values)


class _Reader:
    """Reads the arrays of one index, every file checked against its recorded digest before any is used."""

    def __init__(self, directory: Path, manifest: dict[str, Any]):
        self.directory = directory
        self.files: dict[str, dict[str, Any]] = manifest["files"]
        self.strings: dict[str, int] = manifest["strings"]
        paths = {name: directory / f"{name}.npy" for name in self.files}
        for name, path in paths.items():
            if not path.exists() or path.stat().st_size != self.files[name]["bytes"]:
                raise _Corrupt(f"{name}.npy is missing or of another size")
        # Hashing releases the interpreter lock: both cores share the reading.
        with ThreadPoolExecutor(max_workers=2) as pool:
            digests = dict(zip(paths, pool.map(_digest, paths.values()), strict=True))
        for name, digest in digests.items():
            if digest != self.files[name]["digest"]:
                raise _Corrupt(f"{name}.npy does not match its digest")

    def array(self, name: str) -> np.ndarray:
        # A plain read-only view of the mapping (slicing a numpy memmap object is slower).
        return np.asarray(np.load(self.directory / f"{name}.npy", mmap_mode="r", allow_pickle=False))

    def strings_(self, name: str) -> list[str]:
        count = self.strings[name]
        values = bytes(self.array(name)).decode().split("\n") if count else []
        if len(values) != count:
            raise _Corrupt(f"{name}: {len(values)} strings, manifest says {count}")
        return values


class _Corrupt(Exception):
    """A persisted index that does not match its manifest."""


def _digest(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


class _PersistedEntries(Sequence[ListedParty]):
    """The listed parties of a persisted index, decoded from JSON only when one is read."""

    def __init__(self, blob: np.ndarray, offsets: np.ndarray):
        self._blob = blob
        self._offsets = offsets
        self._decoded: dict[int, ListedParty] = {}

    def __len__(self) -> int:
        return len(self._offsets) - 1

    @overload
    def __getitem__(self, number: int) -> ListedParty: ...

    @overload
    def __getitem__(self, number: slice) -> list[ListedParty]: ...

    def __getitem__(self, number: int | slice) -> ListedParty | list[ListedParty]:
        if isinstance(number, slice):
            return [self[i] for i in range(*number.indices(len(self)))]
        if number < 0:
            number += len(self)
        cached = self._decoded.get(number)
        if cached is None:
            start, end = int(self._offsets[number]), int(self._offsets[number + 1])
            data = json.loads(bytes(self._blob[start:end]))
            cached = self._decoded[number] = ListedParty(
                data["list_key"],
                data["entry_id"],
                data["entry_type"],
                tuple(data["names"]),
                tuple(data["birth_dates"]),
                tuple(data["countries"]),
                tuple(data["identifiers"]),
                data["content_hash"],
            )
        return cached

    def __iter__(self) -> Iterator[ListedParty]:
        for number in range(len(self)):
            yield self[number]


def _entry_json(entry: ListedParty) -> bytes:
    return json.dumps(
        {
            "list_key": entry.list_key,
            "entry_id": entry.entry_id,
            "entry_type": entry.entry_type,
            "names": list(entry.names),
            "birth_dates": list(entry.birth_dates),
            "countries": list(entry.countries),
            "identifiers": list(entry.identifiers),
            "content_hash": entry.content_hash,
        },
        ensure_ascii=False,
    ).encode()


def _write(screener: Screener, directory: Path, key: str) -> None:
    writer = _Writer(directory)
    encoded = [_entry_json(e) for e in screener.entries]
    writer.array("entries_blob", np.frombuffer(b"".join(encoded), dtype=np.uint8))
    writer.array(
        "entries_offsets", np.concatenate([[0], np.cumsum([len(b) for b in encoded])]).astype(np.int64)
    )
    index = screener.index
    identifiers = sorted(index._identifiers.items())
    writer.strings_("identifier_keys", [k for k, _ in identifiers])
    writer.array("identifier_parties", np.array([p for _, ps in identifiers for p in ps], dtype=np.int64))
    writer.array(
        "identifier_starts",
        np.concatenate([[0], np.cumsum([len(ps) for _, ps in identifiers])]).astype(np.int64),
    )
    typed_list = []
    for number, ((kind, type_), typed) in enumerate(sorted(index._typed.items())):
        prefix = f"t{number}"
        typed_list.append([kind, type_, typed.analysis_type, prefix])
        for name in _POSTINGS:
            postings = getattr(typed, name)
            writer.strings_(f"{prefix}_{name}_keys", postings.keys)
            for part in ("codes", "weights", "words", "starts"):
                writer.array(f"{prefix}_{name}_{part}", getattr(postings, part))
        for name in _VOCABULARIES:
            vocabulary = getattr(typed, name)
            writer.strings_(f"{prefix}_{name}_grams", list(vocabulary.gram_ids))
            for part in FuzzyVocabulary.ARRAYS:
                writer.array(f"{prefix}_{name}_{part}", getattr(vocabulary, part))
        writer.strings_(f"{prefix}_loose", typed.loose_of_key)
        writer.strings_(f"{prefix}_skeleton", typed.skeleton_of_key)
        writer.strings_(f"{prefix}_acronym_tokens", sorted(typed._acronym_keys))
        for name in _RECORDS:
            writer.array(f"{prefix}_{name}", getattr(typed, name))
    manifest = {
        "format": FORMAT,
        "key": key,
        "matcher": MATCHER_VERSION,
        "entries": len(screener.entries),
        "typed": typed_list,
        "files": writer.files,
        "strings": writer.strings,
    }
    (directory / _MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))


def _read(directory: Path, key: str, thresholds: Thresholds, config: MatcherConfig) -> Screener:
    manifest = json.loads((directory / _MANIFEST).read_text())
    if (
        manifest.get("format") != FORMAT
        or manifest.get("key") != key
        or manifest.get("matcher") != MATCHER_VERSION
    ):
        raise _Corrupt("manifest of another index")
    reader = _Reader(directory, manifest)
    entries = _PersistedEntries(reader.array("entries_blob"), reader.array("entries_offsets"))
    if len(entries) != manifest["entries"]:
        raise _Corrupt("entry count differs from the manifest")
    index = NameIndex.__new__(NameIndex)
    index.config = config
    index.parties = []
    keys = reader.strings_("identifier_keys")
    parties = reader.array("identifier_parties").tolist()
    starts = reader.array("identifier_starts").tolist()
    index._identifiers = {k: parties[starts[i] : starts[i + 1]] for i, k in enumerate(keys)}
    index._typed = {}
    for kind, type_, analysis_type, prefix in manifest["typed"]:
        typed = _TypedIndex.__new__(_TypedIndex)
        typed.configure(analysis_type, config)
        for name in _POSTINGS:
            parts = [
                reader.array(f"{prefix}_{name}_{part}") for part in ("codes", "weights", "words", "starts")
            ]
            setattr(typed, name, _Postings.loaded(reader.strings_(f"{prefix}_{name}_keys"), *parts))
        for name in _VOCABULARIES:
            arrays = {part: reader.array(f"{prefix}_{name}_{part}") for part in FuzzyVocabulary.ARRAYS}
            setattr(typed, name, FuzzyVocabulary.loaded(reader.strings_(f"{prefix}_{name}_grams"), arrays))
        typed.loose_of_key = reader.strings_(f"{prefix}_loose")
        typed.skeleton_of_key = reader.strings_(f"{prefix}_skeleton")
        typed._acronym_keys = set(reader.strings_(f"{prefix}_acronym_tokens"))
        for name in _RECORDS:
            setattr(typed, name, reader.array(f"{prefix}_{name}"))
        typed.finish()
        index._typed[(kind, type_)] = typed
    return Screener.from_index(entries, index, thresholds, config)


def save_index(screener: Screener, key: str, root: Path | None = None) -> Path:
    """Write the screener's index under `key` (atomically: a reader never sees half an index)."""
    root = root or index_root()
    root.mkdir(parents=True, exist_ok=True)
    final = root / key
    staging = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=root))
    try:
        _write(screener, staging, key)
        try:
            staging.rename(final)
        except OSError:
            if not (final / _MANIFEST).exists():
                raise
            # Another worker wrote the same index first: the content is the same (same key).
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    _prune(root, keep=final)
    return final


#: Indexes kept besides the newest: workers still screening on the previous versions keep theirs open.
KEEP_INDEXES = 3


def _prune(root: Path, keep: Path) -> None:
    """Remove all but the most recent indexes (a mapped file stays readable by a process that has it open)."""
    indexes = sorted(
        (p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and p != keep),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in indexes[KEEP_INDEXES - 1 :]:
        shutil.rmtree(old, ignore_errors=True)


def open_index(
    key: str,
    root: Path | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    config: MatcherConfig = DEFAULT_CONFIG,
) -> Screener | None:
    """The persisted screener under `key`, or None when there is none; a corrupt one is removed."""
    directory = (root or index_root()) / key
    if not (directory / _MANIFEST).exists():
        return None
    try:
        return _read(directory, key, thresholds, config)
    except (_Corrupt, OSError, ValueError, KeyError) as exc:
        log.warning("screening index %s is unusable (%s): removed, it will be rebuilt", directory, exc)
        shutil.rmtree(directory, ignore_errors=True)
        return None


def screener_for(
    list_hashes: Mapping[str, str],
    load_parties: Callable[[], Iterable[ListedParty]],
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    root: Path | None = None,
    config: MatcherConfig = DEFAULT_CONFIG,
) -> Screener:
    """The screener of these active versions: opened from the cache, or built from `load_parties()` and saved.

    A cache that cannot be written (read-only volume, full disk) costs a rebuild next time, not the screening.
    """
    key = index_key(list_hashes, config)
    screener = open_index(key, root, thresholds, config)
    if screener is not None:
        return screener
    screener = Screener(load_parties(), thresholds, config)
    try:
        save_index(screener, key, root)
    except OSError as exc:
        log.warning("screening index %s could not be written (%s)", key, exc)
    return screener

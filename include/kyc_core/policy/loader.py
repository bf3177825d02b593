"""Loading a segment's policy with its reference data, validated, hashed and reproducible from a snapshot."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from kyc_core.errors import UserError
from kyc_core.policy.model import (
    GeographyData,
    PepCategories,
    PolicySpec,
    Segment,
    SensitiveActivities,
)
from kyc_core.settings import get_settings

_M = TypeVar("_M", bound=BaseModel)

# libyaml's parser builds the same Python values as the pure-Python one, several times faster.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Which model validates each reference file named in a policy's `reference` section.
_REFERENCE_MODELS: dict[str, type[BaseModel]] = {
    "geography": GeographyData,
    "sensitive_activities": SensitiveActivities,
    "pep_categories": PepCategories,
}


def canonical_json(value: Any) -> str:
    """Deterministic JSON of parsed YAML: sorted keys, no whitespace, dates as ISO strings."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_iso)


def _iso(value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def content_hash(policy_content: dict[str, Any], references: dict[str, dict[str, Any]]) -> str:
    """SHA-256 of the canonical policy content together with the reference data it reads."""
    body = canonical_json({"policy": policy_content, "reference": references})
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Policy:
    """A validated segment policy, its reference data, and the hash a decision records."""

    spec: PolicySpec
    geography: GeographyData
    activities: SensitiveActivities
    pep: PepCategories
    content_hash: str
    #: Parsed content of the policy file and of each reference file: enough to rebuild this object.
    raw: dict[str, Any]
    source_path: str | None = None

    @property
    def segment(self) -> Segment:
        """Segment this policy governs."""
        return self.spec.segment

    @property
    def version(self) -> str:
        """Version declared in the policy file."""
        return self.spec.version

    @property
    def effective_from(self) -> date:
        """First day the policy may be applied."""
        return self.spec.effective_from

    def lineage(self) -> dict[str, str]:
        """What a decision records about the policy that produced it."""
        return {
            "segment": self.segment.value,
            "version": self.version,
            "effective_from": self.effective_from.isoformat(),
            "content_hash": self.content_hash,
            "geography_version": self.geography.version,
            "sensitive_activities_version": self.activities.version,
            "pep_categories_version": self.pep.version,
        }

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready full content, stored once per hash so past decisions can be re-explained."""
        return json.loads(canonical_json(self.raw))


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        data = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise UserError(f"{path}: invalid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping at the top level")
    return data


def _validate(model: type[_M], data: dict[str, Any], where: str) -> _M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_input=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or "(root)"
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        message = first["msg"].removeprefix("Value error, ")
        raise UserError(f"{where}: {field}: {message}{more}") from None


def _build(raw: dict[str, Any], *, where: str, ref_where: dict[str, str], source_path: str | None) -> Policy:
    spec = _validate(PolicySpec, raw["policy"], where)
    refs = {
        name: _validate(model, raw["reference"][name], ref_where[name])
        for name, model in _REFERENCE_MODELS.items()
    }
    return Policy(
        spec=spec,
        geography=GeographyData.model_validate(refs["geography"]),
        activities=SensitiveActivities.model_validate(refs["sensitive_activities"]),
        pep=PepCategories.model_validate(refs["pep_categories"]),
        content_hash=content_hash(raw["policy"], raw["reference"]),
        raw=raw,
        source_path=source_path,
    )


def load_policy_file(path: Path) -> Policy:
    """Load one policy file and the reference files it names (paths relative to it)."""
    path = Path(path)
    content = _read_yaml(path)
    refs_section = content.get("reference")
    if not isinstance(refs_section, dict):
        raise UserError(f"{path}: reference: must map {', '.join(_REFERENCE_MODELS)} to files")
    references: dict[str, dict[str, Any]] = {}
    ref_where: dict[str, str] = {}
    for name in _REFERENCE_MODELS:
        rel = refs_section.get(name)
        if not isinstance(rel, str):
            raise UserError(f"{path}: reference.{name}: must name a file")
        ref_path = (path.parent / rel).resolve()
        references[name] = _read_yaml(ref_path)
        ref_where[name] = str(ref_path)
    raw = {"policy": content, "reference": references}
    return _build(raw, where=str(path), ref_where=ref_where, source_path=str(path))


def _policy_dir(policy_dir: Path | str | None) -> Path:
    return Path(policy_dir) if policy_dir is not None else get_settings().policy_dir


def load_policy(segment: Segment | str, policy_dir: Path | str | None = None) -> Policy:
    """The current policy of a segment: `<policy_dir>/<segment>.yaml`."""
    try:
        seg = Segment(segment)
    except ValueError:
        raise UserError(
            f"unknown segment {segment!r} (expected one of {', '.join(s.value for s in Segment)})"
        ) from None
    directory = _policy_dir(policy_dir)
    path = directory / f"{seg.value}.yaml"
    if not path.is_file():
        raise UserError(f"{path}: no policy file for segment {seg.value!r}")
    policy = load_policy_file(path)
    if policy.segment != seg:
        raise UserError(f"{path}: segment: file declares {policy.segment.value!r}, expected {seg.value!r}")
    return policy


def _policy_files(directory: Path) -> list[Path]:
    """Every YAML under the directory that is a policy (has a segment), current ones first."""
    files = sorted(directory.glob("*.yaml")) + sorted(
        p for p in directory.rglob("*.yaml") if p.parent != directory
    )
    found = []
    for path in files:
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(data, dict) and "segment" in data and "reference" in data:
            found.append(path)
    return found


def load_policy_by_hash(digest: str, policy_dir: Path | str | None = None) -> Policy:
    """The policy, current or archived under the policy directory, whose content hash is `digest`."""
    directory = _policy_dir(policy_dir)
    for path in _policy_files(directory):
        try:
            policy = load_policy_file(path)
        except UserError:
            continue
        if policy.content_hash == digest:
            return policy
    raise UserError(f"{directory}: no policy file with content hash {digest}")


def policy_from_snapshot(snapshot: dict[str, Any], expected_hash: str | None = None) -> Policy:
    """Rebuild a policy from :meth:`Policy.snapshot`; refuses a snapshot that no longer hashes the same."""
    if not isinstance(snapshot, dict) or set(snapshot) != {"policy", "reference"}:
        raise UserError("policy snapshot: expected exactly the keys 'policy' and 'reference'")
    reference = snapshot["reference"]
    if not isinstance(reference, dict) or set(reference) != set(_REFERENCE_MODELS):
        raise UserError(f"policy snapshot: reference: expected {', '.join(_REFERENCE_MODELS)}")
    policy = _build(
        snapshot,
        where="policy snapshot",
        ref_where={name: f"policy snapshot reference.{name}" for name in _REFERENCE_MODELS},
        source_path=None,
    )
    if expected_hash is not None and policy.content_hash != expected_hash:
        raise UserError(
            f"policy snapshot: content hash {policy.content_hash} differs from recorded {expected_hash}"
        )
    return policy


def screening_thresholds(segment: str = "cgp", policy_dir: Path | str | None = None):
    """The review and match thresholds the segment's policy sets for sanctions screening."""
    from kyc_core.screening.compare import Thresholds

    sanctions = load_policy(segment, policy_dir).spec.sanctions
    return Thresholds(review=sanctions.review_threshold, match=sanctions.match_threshold)

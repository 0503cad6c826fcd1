"""Leakage: mapped fields that are filled because a lead converted, not before it did.

A field filled in most converted records but few unconverted ones (or whose fill rates differ by more than
half) is most likely written by the conversion itself (a converted date, an opportunity amount, a stage),
and a model trained on it learns the outcome rather than the lead. `leadq check` compares fill rates on a
sample of records pulled through the connector and warns about such fields unless they are marked
`leaky: true`; fields marked leaky that look alike in both groups are reported too (their leak, if any, is
in the values, which fill rates cannot see).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from connector.protocol import CRMConnector
from mappings import FeatureSpec
from mappings.config.features import normalise_category
from sync.check import feature_paths
from sync.check_types import CrmBlock, Finding, Status

SAMPLE_SIZE = 2000
SAMPLE_CAP = 10_000  # at most 5 Salesforce query pages, 50 HubSpot search pages
BALANCED = 100  # records of each group worth reading on for
MIN_PER_GROUP = 10  # below this, one record moves a fill rate by more than 10 points
SHARP_GAP = 0.5
MOSTLY, RARELY = 0.9, 0.2


@dataclass(frozen=True)
class LabelSplit:
    """Which object is sampled and how a sampled record is told converted from unconverted."""

    object: str
    fields: tuple[str, ...]
    noun: str

    def converted(self, record: Mapping[str, Any], stages: frozenset[str]) -> bool:
        if self.object == "Lead":
            return record.get("IsConverted") is True
        return normalise_category(str(record.get("lifecyclestage") or "")) in stages


def label_split(crm: str, block: CrmBlock) -> LabelSplit | None:
    """The split for the configured label; None when fill rates cannot be split by it (won deals)."""
    kind = block.label.kind
    if kind in ("converted", "converted_opportunity_won") and "Lead" in block.objects:
        return LabelSplit("Lead", ("IsConverted",), "leads")
    if kind == "lifecycle_stage" and "contacts" in block.objects:
        return LabelSplit("contacts", ("lifecyclestage",), "contacts")
    return None


def _stages(block: CrmBlock) -> frozenset[str]:
    return frozenset(normalise_category(s) for s in getattr(block.label, "stages", ()))


def filled(value: Any) -> bool:
    """A value counts as filled unless it is null or blank (false and 0 are values)."""
    return value is not None and not (isinstance(value, str) and not value.strip())


@dataclass(frozen=True)
class FillRate:
    """How often one field is filled among converted and unconverted records of the sample."""

    path: str
    converted: float
    unconverted: float

    @property
    def sharp(self) -> bool:
        gap = abs(self.converted - self.unconverted) > SHARP_GAP
        return gap or (self.converted > MOSTLY and self.unconverted < RARELY)


def fill_rates(
    paths: Iterable[str], converted: Sequence[Mapping[str, Any]], unconverted: Sequence[Mapping[str, Any]]
) -> list[FillRate]:
    """Fill rates per path in both groups (both groups must be non-empty)."""
    out = []
    for path in paths:
        rate_c = sum(filled(r.get(path)) for r in converted) / len(converted)
        rate_u = sum(filled(r.get(path)) for r in unconverted) / len(unconverted)
        out.append(FillRate(path, rate_c, rate_u))
    return out


def leakage_findings(
    crm: str, block: CrmBlock, split: LabelSplit, paths: Sequence[str], records: Sequence[Mapping[str, Any]]
) -> list[Finding]:
    """Findings for the feature fields in `paths`, from a sample of `split.object` records."""
    obj = split.object
    stages = _stages(block)
    converted = [r for r in records if split.converted(r, stages)]
    unconverted = [r for r in records if not split.converted(r, stages)]
    by_path = feature_paths(crm, block, obj)
    out: list[Finding] = []
    for path in paths:
        features = by_path.get(path, [])
        if path in split.fields and any(not f.leaky for f in features):
            out.append(_finding(crm, obj, path, Status.WARN, f"{_names(features)}: this field is the label "
                                "itself; mark the feature `leaky: true`"))  # fmt: skip
    if len(converted) < MIN_PER_GROUP or len(unconverted) < MIN_PER_GROUP:
        return [*out, _finding(crm, obj, "", Status.OK,
                               f"not checked: the sample of {len(records)} {split.noun} has {len(converted)} "
                               f"converted and {len(unconverted)} unconverted; {MIN_PER_GROUP} of each are needed")]  # fmt: skip
    checked = [p for p in paths if p not in split.fields]
    for rate in fill_rates(checked, converted, unconverted):
        out.extend(_judge(crm, obj, split, rate, by_path.get(rate.path, [])))
    return out


def _names(features: Sequence[FeatureSpec]) -> str:
    return "feature " + ", ".join(f.name for f in features)


def _finding(crm: str, obj: str, path: str, status: Status, message: str) -> Finding:
    return Finding(crm, obj, path, "leakage", status, message)


def _judge(
    crm: str, obj: str, split: LabelSplit, rate: FillRate, features: Sequence[FeatureSpec]
) -> list[Finding]:
    rates = (
        f"filled in {rate.converted:.0%} of converted but {rate.unconverted:.0%} of unconverted {split.noun}"
    )
    open_features = [f for f in features if not f.leaky]
    if rate.sharp and open_features:
        return [_finding(crm, obj, rate.path, Status.WARN,
                         f"{_names(open_features)}: {rates}; it looks set by the conversion: mark it "
                         "`leaky: true` or map a field known before the outcome")]  # fmt: skip
    if rate.sharp:
        return [_finding(crm, obj, rate.path, Status.OK, f"{rates}; marked leaky, kept out of models")]
    if features and not open_features:
        alike = f"filled alike ({rate.converted:.0%} converted, {rate.unconverted:.0%} unconverted)"
        return [_finding(crm, obj, rate.path, Status.OK,
                         f"{_names(features)} is marked leaky but is {alike}; if its values are not set by the "
                         "outcome either, drop `leaky: true` so models may use it")]  # fmt: skip
    return [_finding(crm, obj, rate.path, Status.OK,
                     f"no sign of leakage ({rate.converted:.0%} converted, {rate.unconverted:.0%} unconverted filled)")]  # fmt: skip


def pull_sample(
    connector: CRMConnector,
    obj: str,
    fields: Sequence[str],
    *,
    limit: int = SAMPLE_SIZE,
    cap: int = SAMPLE_CAP,
    enough: Callable[[Sequence[Mapping[str, Any]]], bool] | None = None,
) -> list[dict[str, Any]]:
    """At least `limit` records of `obj` (or all there are) through the connector's pull, oldest first.

    Pages come oldest-modified first, and converting a lead modifies it, so the first pages of a big org
    can hold few converted records: with `enough`, reading goes on past `limit` until `enough(records)`
    holds, up to `cap` records.
    """
    out: list[dict[str, Any]] = []
    # No cursor moves on a sample, so the window may end in the future: records changed this very second
    # (which a sync leaves for its next run) count too.
    until = datetime.now(UTC) + timedelta(days=1)
    pages = connector.pull_changes(obj, fields, None, run_started=until)
    try:
        for page in pages:
            out.extend(page.records)
            if len(out) >= cap or (len(out) >= limit and (enough is None or enough(out))):
                break
    finally:
        close = getattr(pages, "close", None)
        if close is not None:  # a generator: closing it now makes no further calls
            close()
    return out[:cap]


def balanced(block: CrmBlock, split: LabelSplit) -> Callable[[Sequence[Mapping[str, Any]]], bool]:
    """`enough` for `pull_sample`: both groups have `BALANCED` records."""
    stages = _stages(block)

    def check(records: Sequence[Mapping[str, Any]]) -> bool:
        converted = sum(split.converted(r, stages) for r in records)
        return min(converted, len(records) - converted) >= BALANCED

    return check

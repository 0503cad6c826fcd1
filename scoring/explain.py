"""From contributions to what a rep reads: reasons per CRM field or graph fact, as short sentences.

Contributions (score-scale points per column, `scoring.contributions`) are summed per *source*: the
CRM field or graph/activity fact a column came from (two columns read from `Email` share one source).
Sources the admin marked not explainable are summed into one "Other factors" source, so no hidden field
is ever named. Each lead gets its 3 biggest positive and 3 biggest negative sources (|points| >= 0.5),
rendered with the column's label and value: "Lead source: Partner Referral, +14", "2 colleagues at Acme
Corp engaged this month, +9", "Employees: 12, -6" (with a true minus sign, U+2212). When the lead was scored before, one line says what
moved the score since: "+9 since 3 Nov: 4 more pricing page visits (30 days)".

`join_lines` fits the lines into a CRM field's length: whole lines only, never a cut word.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt
import pandas as pd

from scoring.decision import Reason
from scoring.features import ColumnInfo

__all__ = [
    "OTHER_FACTORS",
    "Previous",
    "SourcePoints",
    "describe_change",
    "join_lines",
    "reasons_for",
    "signed",
    "since_line",
    "source_points",
]

OTHER_FACTORS = "other"
"""Source key of everything not explainable; its label is "Other factors"."""
OTHER_LABEL = "Other factors"
TOP = 3
MIN_POINTS = 0.5
_MINUS = "\u2212"
_ELLIPSIS = "\u2026"


def signed(points: float) -> str:
    """Whole points with a sign: "+14", "0", and negatives with a true minus sign (U+2212)."""
    n = round(float(points))
    return f"+{n}" if n > 0 else f"{_MINUS}{-n}" if n < 0 else "0"


@dataclass(frozen=True, slots=True)
class Previous:
    """What a lead's last decision stored, for the "what moved since" line.

    `points`: score-scale points per source; `values`: raw column values then (optional).
    """

    score: int
    scored_at: datetime | None
    points: Mapping[str, float]
    values: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class SourcePoints:
    """Points per source (lead id x source) and, per lead and source, the column that speaks for it."""

    points: pd.DataFrame
    voice: npt.NDArray[np.int64]  # lead x source -> index into `columns` (-1 for "Other factors")
    columns: tuple[str, ...]
    labels: Mapping[str, str]


def source_points(
    points: pd.DataFrame, infos: Mapping[str, ColumnInfo], *, explainable_only: bool = True
) -> SourcePoints:
    """Sum column points (lead id x column) per source; unexplainable sources go to "Other factors".

    The column that speaks for a source on a lead is its column with the largest |points| there.
    """
    columns = tuple(str(c) for c in points.columns)
    values = points.to_numpy(dtype=np.float64)
    groups: dict[str, list[int]] = {}
    labels: dict[str, str] = {}
    for j, name in enumerate(columns):
        info = infos.get(name)
        hidden = info is None or (explainable_only and not info.explainable)
        source = OTHER_FACTORS if hidden or info is None else info.source
        groups.setdefault(source, []).append(j)
        labels.setdefault(source, OTHER_LABEL if source == OTHER_FACTORS or info is None else info.label)
    names = list(groups)
    summed = np.zeros((len(values), len(names)))
    voice = np.full((len(values), len(names)), -1, dtype=np.int64)
    for k, source in enumerate(names):
        members = np.asarray(groups[source])
        block = values[:, members]
        summed[:, k] = block.sum(axis=1)
        if source != OTHER_FACTORS:
            voice[:, k] = members[np.argmax(np.abs(block), axis=1)]
    return SourcePoints(pd.DataFrame(summed, index=points.index, columns=names), voice, columns, labels)


Render = Callable[[int, str], tuple[str, str, str]]
"""(row, column) -> (label, value in words, phrase) used for one reason."""


def reasons_for(
    sources: SourcePoints, render: Render, *, prefix: str = ""
) -> list[tuple[tuple[Reason, ...], tuple[Reason, ...]]]:
    """The top 3 up and top 3 down reasons of every lead, biggest first.

    `prefix` starts every reason's text (the rule-based notice).
    """
    values = sources.points.to_numpy()
    names = list(sources.points.columns)
    order = np.argsort(-values, axis=1, kind="stable")
    tops, bottoms = order[:, :TOP].tolist(), order[:, ::-1][:, :TOP].tolist()
    rows = values.tolist()
    out: list[tuple[tuple[Reason, ...], tuple[Reason, ...]]] = []
    for row, line in enumerate(rows):
        up = [k for k in tops[row] if line[k] >= MIN_POINTS]
        down = [k for k in bottoms[row] if line[k] <= -MIN_POINTS]
        made = tuple(
            tuple(_reason(sources, render, row, k, names[k], line[k], prefix) for k in ks)
            for ks in (up, down)
        )
        out.append((made[0], made[1]))
    return out


def _reason(
    sources: SourcePoints, render: Render, row: int, k: int, source: str, points: float, prefix: str
) -> Reason:
    column = int(sources.voice[row, k])
    if column < 0:
        label, value, phrase = OTHER_LABEL, "", OTHER_LABEL
    else:
        label, value, phrase = render(row, sources.columns[column])
    text = f"{phrase}, {signed(points)}"
    return Reason(source, label, value, float(points), f"{prefix}{text}" if prefix else text)


def since_line(
    previous: Previous,
    score: int,
    points: Mapping[str, float],
    describe: Callable[[str], str | None],
    *,
    max_movers: int = 2,
) -> str | None:
    """ "+9 since 3 Nov: 4 more pricing page visits (30 days)": the score change and its biggest movers.

    `points`: this score's points per source; `describe(source)` says how that source's value changed
    (None when it did not: its points then moved through other values or a new model, which is no
    reason to name it). Movers are the changed sources whose points moved most (at least half a point),
    "Other factors" excepted. None when neither the score nor any source moved.
    """
    before = previous.points
    movers: list[tuple[float, str]] = []
    for s, now in points.items():
        moved = abs(now - before.get(s, 0.0))
        if moved >= MIN_POINTS and s != OTHER_FACTORS:
            movers.append((-moved, s))
    for s, then in before.items():
        if s not in points and abs(0.0 - then) >= MIN_POINTS and s != OTHER_FACTORS:
            movers.append((-abs(0.0 - then), s))
    movers.sort()  # biggest move first, then by name (names are distinct)
    details: list[str] = []
    for _, s in movers:  # `describe` is pure: asking only until `max_movers` answer changes nothing
        if len(details) == max_movers:
            break
        if (text := describe(s)) is not None:
            details.append(text)
    change = score - previous.score
    if change == 0 and not details:
        return None
    moment = previous.scored_at
    when = f"since {moment.day} {moment:%b}" if moment is not None else "since the last score"
    return f"{signed(change)} {when}" + (f": {'; '.join(details)}" if details else "")


def describe_change(
    info: ColumnInfo, old: object, new: object, context: Mapping[str, object], *, known: bool = True
) -> str | None:
    """How one column's value changed, in words: "4 more pricing page visits (30 days)",
    "Lead source: Partner Referral (was Web)"; the current value alone when the old one is not `known`;
    None when the value did not change."""
    if not known:
        return info.render(new, context)
    if _same(old, new):
        return None
    now_text = info.render(new, context)
    if _absent(old):
        return f"{now_text} (was not set)"
    if info.kind == "number" and info.origin != "field" and _is_number(old) and _is_number(new):
        diff = float(new) - float(old)  # type: ignore[arg-type]
        if diff.is_integer() and diff != 0:
            label = info.label[:1].lower() + info.label[1:]
            return f"{abs(int(diff)):,} {'more' if diff > 0 else 'fewer'} {label}"
    then = info.render(old, context)
    was = then if info.origin == "graph" else then.split(": ", 1)[-1]
    return f"{now_text} (was {was})"


def _same(old: object, new: object) -> bool:
    if _absent(old) or _absent(new):
        return _absent(old) and _absent(new)
    if _is_number(old) and _is_number(new):
        return float(old) == float(new)  # type: ignore[arg-type]
    return str(old) == str(new)


def _absent(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


_NUMBERS = (int, float, np.number)  # a tuple, not `int | float | ...`: that union is rebuilt on every call


def _is_number(value: object) -> bool:
    return isinstance(value, _NUMBERS) and not isinstance(value, bool) and not _absent(value)


def join_lines(lines: Sequence[str], max_chars: int | None) -> str:
    """Lines joined by newlines, as many whole lines as fit in `max_chars`.

    A first line longer than `max_chars` alone is cut at a word boundary and ends with "…".
    """
    text = ""
    for line in lines:
        candidate = f"{text}\n{line}" if text else line
        if max_chars is not None and len(candidate) > max_chars:
            if not text:
                return _cut_words(line, max_chars)
            break
        text = candidate
    return text


def _cut_words(line: str, max_chars: int) -> str:
    if max_chars <= 1:
        return ""
    room = line[: max_chars - 1]
    cut = room.rsplit(" ", 1)[0] if " " in room else ""
    return f"{cut.rstrip(' ,:')}{_ELLIPSIS}" if cut else ""

"""Constructors of canonical records by position, and the field orders both CRMs' builders pass them.

Translating a 100k-lead org builds ~800k frozen records; `maker` fills their slots directly instead of going
through the keyword `__init__`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

# The fields every canonical record has, read the same way for each object of a CRM (`_common` of each).
COMMON_FIELDS = ("crm", "id", "deleted", "modified_at")
# The fields both CRMs' builders read for each kind of record, in the order they pass them to `maker`'s
# constructors (each CRM adds its own after these where it has more).
PERSON_FIELDS = (
    *COMMON_FIELDS,
    "email",
    "name",
    "company",
    "domain",
    "title",
    "owner_id",
    "account_id",
    "created_at",
)
ACCOUNT_FIELDS = (*COMMON_FIELDS, "name", "website", "domain", "parent_id", "industry", "employees", "revenue",
                  "is_customer", "owner_id", "created_at")  # fmt: skip
OPPORTUNITY_FIELDS = (*COMMON_FIELDS, "name", "account_id", "stage", "is_won", "is_closed", "amount", "close_date",
                      "created_at", "owner_id")  # fmt: skip
TASK_FIELDS = (*COMMON_FIELDS, "who_id", "owner_id", "subject", "status", "is_completed", "completed_at", "due_at",
               "decision", "idempotency_key", "created_at")  # fmt: skip
R = TypeVar("R")


def maker(cls: type[R], *names: str) -> Callable[..., R]:
    """A constructor of the frozen, slotted dataclass `cls` taking the fields `names` by position.

    `maker(Activity, "crm", "id")(c, i)` equals `Activity(crm=c, id=i)`: the other fields take their
    defaults. It fills the slots directly, which costs a translated record about half of what the keyword
    `__init__` (one `object.__setattr__` per field) does; a class with a `__post_init__` is simply called.
    """
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = [name for name in names if name not in fields]
    if unknown or len(set(names)) != len(names):
        raise ValueError(f"{cls.__name__} has no fields {unknown} (or a field is named twice)")
    if hasattr(cls, "__post_init__") or not hasattr(cls, "__slots__"):
        return lambda *values: cls(**dict(zip(names, values, strict=True)))
    setters = tuple(getattr(cls, name).__set__ for name in names)
    fixed: list[tuple[Callable[[object, object], None], object]] = []
    made: list[tuple[Callable[[object, object], None], Callable[[], object]]] = []
    for name, spec in fields.items():
        if name in names:
            continue
        if spec.default is not dataclasses.MISSING:
            fixed.append((getattr(cls, name).__set__, spec.default))
        elif spec.default_factory is not dataclasses.MISSING:
            made.append((getattr(cls, name).__set__, spec.default_factory))
        else:
            raise ValueError(f"{cls.__name__}.{name} has no default: name it")
    # Straight-line code, as `dataclasses` writes `__init__`: a loop over the setters (the zip, the tuple
    # unpacking, the loop itself) costs about as much again as the setters do. Only integers are
    # interpolated; the setters and defaults are bound by name in the function's globals.
    scope: dict[str, Any] = {"new": object.__new__, "cls": cls}
    lines = [f"def make({', '.join(f'v{i}' for i in range(len(setters)))}):", "    record = new(cls)"]
    for i, put in enumerate(setters):
        scope[f"put{i}"] = put
        lines.append(f"    put{i}(record, v{i})")
    for i, (put, value) in enumerate(fixed):
        scope[f"fix{i}"], scope[f"default{i}"] = put, value
        lines.append(f"    fix{i}(record, default{i})")
    for i, (put, factory) in enumerate(made):
        scope[f"fill{i}"], scope[f"factory{i}"] = put, factory
        lines.append(f"    fill{i}(record, factory{i}())")
    lines.append("    return record")
    exec("\n".join(lines), scope)  # noqa: S102 - our own source, built above from counts only
    make: Callable[..., R] = scope["make"]
    return make

"""Score decay for inactivity, per segment, over a whole batch at once.

    decayed = floor + (score - floor) * 0.5 ** (max(0, days_inactive - after_days) / half_life_days)

A score at or below the floor, a lead without a known inactivity, and a segment whose decay is off are
left alone. Decayed scores are rounded half up to whole points, as scores are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mappings.config.policy import Decay, ScoringConfig
from scoring.policy.values import BoolArray, FloatArray, ObjectArray


@dataclass(frozen=True, slots=True)
class DecayParameters:
    """Decay settings spread over a batch, one entry per lead (from each lead's segment)."""

    enabled: BoolArray
    half_life_days: FloatArray
    after_days: FloatArray
    floor: FloatArray

    @classmethod
    def for_segments(cls, config: ScoringConfig, segments: ObjectArray) -> DecayParameters:
        """The settings of each lead's segment (`ScoringConfig.decay_for`)."""
        # One lookup per distinct segment (None included), spread over the leads by code.
        codes, names = pd.factorize(pd.Series(segments, dtype=object), use_na_sentinel=False)
        table: list[Decay | None] = [
            config.decay_for(name if isinstance(name, str) else None) for name in names
        ]
        enabled = np.array([s is not None and s.enabled for s in table], dtype=bool)
        half_life = np.array([s.half_life_days if s else 1.0 for s in table], dtype=np.float64)
        after = np.array([s.after_days if s else 0.0 for s in table], dtype=np.float64)
        floor = np.array([s.floor if s else 0.0 for s in table], dtype=np.float64)
        return cls(enabled[codes], half_life[codes], after[codes], floor[codes])


def round_half_up(values: FloatArray) -> FloatArray:
    """Whole points, halves rounded up (NaN stays NaN)."""
    return np.floor(values + 0.5)


def decay(scores: FloatArray, days_inactive: FloatArray, parameters: DecayParameters) -> FloatArray:
    """Decayed scores (not rounded); unchanged where decay does not apply."""
    excess = np.maximum(0.0, days_inactive - parameters.after_days)
    factor = np.power(0.5, excess / parameters.half_life_days)
    decayed = parameters.floor + (scores - parameters.floor) * factor
    applies = parameters.enabled & ~np.isnan(days_inactive) & (scores > parameters.floor)
    return np.where(applies, decayed, scores)

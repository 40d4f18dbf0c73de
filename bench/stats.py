"""Percentiles and the summary of a list of timings."""

import math


def percentile(values: list[float], pct: float) -> float:
    """The `pct` percentile of `values` (linear interpolation between closest ranks)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarise(timings_ms: list[float]) -> dict[str, float | None]:
    """Count, p50, p95, p99, mean and max of timings in milliseconds, rounded to 0.01 ms (None
    for an empty list, so that the JSON stays valid)."""
    if not timings_ms:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "mean": None, "max": None}
    return {
        "n": len(timings_ms),
        "p50": round(percentile(timings_ms, 50), 2),
        "p95": round(percentile(timings_ms, 95), 2),
        "p99": round(percentile(timings_ms, 99), 2),
        "mean": round(sum(timings_ms) / len(timings_ms), 2),
        "max": round(max(timings_ms), 2),
    }


def ratio(ours: float | None, baseline: float | None) -> float | None:
    """ours / baseline, rounded; None when either is missing or the baseline is zero."""
    if ours is None or not baseline:
        return None
    return round(ours / baseline, 2)

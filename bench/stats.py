"""Small statistics for the benchmarks: true percentiles and a one-line summary of a sample."""

import math


def percentile(values, p: float) -> float:
    """The nearest-rank percentile: the smallest value with at least `p` % of the values at or below
    it (p95 of 20 samples is the 19th smallest, p99 the largest). No interpolation."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(len(ordered) * p / 100))
    return ordered[rank - 1]


def summary(values) -> dict:
    """{"n", "p50", "p95", "p99", "min", "max"} of `values`."""
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "min": min(values) if values else math.nan,
        "max": max(values) if values else math.nan,
    }

"""Numbers as the clients' JSON files hold them, read the one way every reader reads them."""

from __future__ import annotations

import math
from typing import Any


def finite(x: Any) -> float | None:
    """A number from JSON, or None. Numeric strings count (a template may have
    stringified them); bools, other strings and NaN are not measurements."""
    if isinstance(x, str):
        try:
            x = float(x.strip())
        except ValueError:
            return None
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    return float(x) if math.isfinite(x) else None


def integer(x: Any) -> int | None:
    """An integer from JSON (or an integral numeric string), else None."""
    f = finite(x)
    return int(f) if f is not None and f == int(f) else None


def answered_rps(parts: list[tuple[Any, Any]]) -> float | None:
    """The rate a split rate run's answers came at, from each part's (complete, rps): the answers summed
    over the longest part's span of answers (each (complete - 1) / its rps: the parts start together, so
    the union's span is about the longest), the answers less one as one client's own rps counts them; one
    part: its own rps. None when a part's span is not measured (no rps, or fewer than two answers)."""
    spans, complete = [], 0
    for done, rps in parts:
        done, rps = integer(done), finite(rps)
        if done is None or rps is None or rps <= 0 or done < 2:
            return None
        spans.append((done - 1) / rps)
        complete += done
    if not spans:
        return None
    if len(spans) == 1:
        return finite(parts[0][1])
    return (complete - 1) / max(spans) if max(spans) > 0 else None


def count(value: Any) -> int | None:
    """A JSON number as an int (a client's own counter: no strings, fractions cut), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return None
    return int(value)


def histogram(raw: Any) -> list[tuple[int, int]] | None:
    """A client's [[value, count], ...] as sorted (value, count) pairs; None when absent or malformed."""
    if not isinstance(raw, list):
        return None
    out = []
    for item in raw:
        if not isinstance(item, list) or len(item) != 2:
            return None
        value, k = count(item[0]), count(item[1])
        if value is None or k is None or k < 0:
            return None
        out.append((value, k))
    return sorted(out)


def merge_histograms(hists: list[list[tuple[int, int]]]) -> list[tuple[int, int]]:
    """The histogram of the union of several runs' samples."""
    merged: dict[int, int] = {}
    for hist in hists:
        for value, k in hist:
            merged[value] = merged.get(value, 0) + k
    return sorted(merged.items())


def status_counts(raw: Any) -> dict[str, int] | None:
    """A client's status_counts (wrk.json's, rate.json's) as {"200": k, ...} in code order; None when
    absent or malformed."""
    if not isinstance(raw, dict):
        return None
    out = {}
    for code, value in raw.items():
        k = count(value)
        if not str(code).isdigit() or k is None or k < 0:
            return None
        out[str(int(code))] = k
    return dict(sorted(out.items(), key=lambda item: int(item[0])))


def non_2xx_codes(counts: dict[str, int]) -> dict[str, int]:
    """The counts of the codes outside 200-299 (the clients' non-2xx)."""
    return {code: k for code, k in counts.items() if not 200 <= int(code) <= 299}


def status_check(counts: dict[str, int] | None, non_2xx: int, source: str, over_399: Any = None) -> list[str]:
    """Warnings when status_counts disagree with the client's non_2xx (and wrk's errors.status, its own
    count of codes > 399): the codes shown for the non-2xx would not be theirs."""
    if counts is None:
        return []
    out = []
    codes = sum(non_2xx_codes(counts).values())
    if codes != non_2xx:
        out.append(f"{source}: non_2xx is {non_2xx}, but its status_counts have {codes} non-2xx answers")
    wrk_own = count(over_399)
    high = sum(k for code, k in counts.items() if int(code) > 399)
    if wrk_own is not None and wrk_own != high:
        out.append(f"{source}: wrk counted {wrk_own} answers with status > 399, its status_counts {high}")
    return out

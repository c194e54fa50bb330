"""The Mann-Whitney U test, one-sided, for compare's repetitions (pure Python).

compare asks whether one run's repetitions of a point tend to be higher than
the other's: few values (3 to 10 a side), no assumption on their spread's
shape. Written here rather than taken from SciPy (scipy.stats.mannwhitneyu):
SciPy is about 40 MB of wheels for this one function.

* Ranks: the pooled values' ranks, ties sharing their mean rank (midranks).
* U of x: the sum of x's ranks - n_x (n_x + 1) / 2 (pairs where x is higher,
  a tie counting a half).
* Exact p (comb(n_x + n_y, n_x) <= EXACT_LIMIT): over every way of choosing
  which n_x of the pooled ranks are x's (the permutation distribution under
  "no difference", ties kept as midranks), the share with a rank sum at
  least (greater) or at most (less) x's own. 3 vs 3 fully separated: 1/20;
  4 vs 4: 1/70.
* Beyond the bound: the normal approximation with the tie correction,
  var = n_x n_y / 12 × ((n + 1) - Σ(t³ - t) / (n (n - 1))), and a
  continuity correction of 1/2.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter

#: Enumerate the permutation distribution up to this many combinations (10 vs 10 is 184 756).
EXACT_LIMIT = 200_000


def midranks(values: list[float]) -> list[float]:
    """Each value's rank among `values` (1-based), tied values sharing the mean of their ranks."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def u_statistic(x: list[float], y: list[float]) -> float:
    """U of x: pairs (x_i, y_j) with x_i > y_j, a tie counting 1/2."""
    ranks = midranks([*x, *y])
    return sum(ranks[: len(x)]) - len(x) * (len(x) + 1) / 2.0


def _exact(x: list[float], y: list[float], greater: bool) -> float:
    # doubled midranks are whole numbers: exact comparisons of the rank sums
    ranks = [round(2 * r) for r in midranks([*x, *y])]
    observed = sum(ranks[: len(x)])
    hits = total = 0
    for chosen in itertools.combinations(ranks, len(x)):
        total += 1
        s = sum(chosen)
        hits += s >= observed if greater else s <= observed
    return hits / total


def _normal(x: list[float], y: list[float], greater: bool) -> float:
    nx, ny = len(x), len(y)
    n = nx + ny
    ties = sum(t ** 3 - t for t in Counter([*x, *y]).values())
    var = nx * ny / 12.0 * ((n + 1) - ties / (n * (n - 1)))
    if var <= 0:
        return 1.0  # every value the same: no evidence either way
    u = u_statistic(x, y)
    shift = u - nx * ny / 2.0
    z = (shift - 0.5) / math.sqrt(var) if greater else (-shift - 0.5) / math.sqrt(var)
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def p_value(x: list[float], y: list[float], greater: bool, exact_limit: int = EXACT_LIMIT) -> float:
    """One-sided p that x's values are not higher (greater=True) or not lower (greater=False) than y's:
    the chance, with no difference, of a rank sum of x at least (at most) as extreme as observed."""
    if not x or not y:
        raise ValueError("each side needs at least one value")
    if math.comb(len(x) + len(y), len(x)) <= exact_limit:
        return _exact(x, y, greater)
    return _normal(x, y, greater)

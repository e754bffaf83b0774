"""Fusing keyword and semantic rankings, and highlighted snippets.

Two fusions are implemented and measured by bench/search_eval.py: reciprocal rank fusion
(RRF, k=60) and normalized score fusion (each list's scores min-max scaled, then averaged).
`DEFAULT_FUSION` is the one that won on the evaluation set.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from typing import Literal

from search.keyword import terms_of

Fusion = Literal["rrf", "score"]
DEFAULT_FUSION: Fusion = "score"
# Share of the semantic ranking in the fused one (measured: bench/search_quality.py).
SEMANTIC_WEIGHT = 0.7
RRF_K = 60
SNIPPET_BEFORE = 80
SNIPPET_CHARS = 280


def fuse(keyword: list[tuple[str, float]], semantic: list[tuple[str, float]],
         fusion: Fusion = DEFAULT_FUSION, semantic_weight: float = SEMANTIC_WEIGHT,
         ) -> list[tuple[str, float]]:  # fmt: skip
    """Merge two best-first (key, score) lists into one best-first list with 0–1 scores.

    rrf: weighted reciprocal rank fusion (k=60), scaled so first-in-both is 1.
    score: each list min-max scaled, then a weighted mean (semantic_weight : 1-semantic_weight).
    """
    weights = (1.0 - semantic_weight, semantic_weight)
    scores: dict[str, float] = {}
    if fusion == "rrf":
        for weight, ranking in zip(weights, (keyword, semantic), strict=True):
            for rank, (key, _) in enumerate(ranking, 1):
                scores[key] = scores.get(key, 0.0) + weight / (RRF_K + rank)
        best = 1.0 / (RRF_K + 1)  # first in both lists (weights sum to 1)
        return sorted(((k, min(1.0, v / best)) for k, v in scores.items()), key=lambda kv: -kv[1])
    for weight, ranking in zip(weights, (keyword, semantic), strict=True):
        if not ranking:
            continue
        hi, lo = ranking[0][1], ranking[-1][1]
        span = hi - lo
        for key, score in ranking:
            scaled = (score - lo) / span if span > 1e-9 else 1.0
            scores[key] = scores.get(key, 0.0) + weight * scaled
    return sorted(scores.items(), key=lambda kv: -kv[1])


def _pattern(terms: Iterable[str]) -> re.Pattern[str] | None:
    words = sorted({t for t in terms if len(t) >= 3}, key=len, reverse=True)
    if not words:
        return None
    # Prefix match, so "ship" also marks "shipping" and "shipped" (the index stems too).
    return re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\w*", re.IGNORECASE)


def snippet(text: str, query: str) -> tuple[str, str]:
    """(plain snippet, HTML-escaped snippet with <mark> around query terms)."""
    text = " ".join(text.split())
    pattern = _pattern(terms_of(query))
    start = 0
    if pattern is not None:
        found = pattern.search(text)
        if found and found.start() > SNIPPET_BEFORE:
            start = text.rfind(" ", 0, found.start() - SNIPPET_BEFORE) + 1
    plain = text[start : start + SNIPPET_CHARS]
    if start + SNIPPET_CHARS < len(text):
        plain = plain.rsplit(" ", 1)[0] + " …"
    if start > 0:
        plain = "… " + plain
    if pattern is None:
        return plain, html.escape(plain)
    parts: list[str] = []
    last = 0
    for m in pattern.finditer(plain):
        parts.append(html.escape(plain[last : m.start()]))
        parts.append(f"<mark>{html.escape(m.group(0))}</mark>")
        last = m.end()
    parts.append(html.escape(plain[last:]))
    return plain, "".join(parts)

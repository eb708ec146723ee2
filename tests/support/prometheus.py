"""Read a Prometheus /metrics page into plain dicts the metrics tests compare with what the
client received."""

from __future__ import annotations

import collections

import httpx
from prometheus_client.parser import text_string_to_metric_families


def scrape(url: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """metric sample name -> {sorted labels: value}"""
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = collections.defaultdict(dict)
    for fam in text_string_to_metric_families(httpx.get(url, timeout=10).text):
        for s in fam.samples:
            out[s.name][tuple(sorted(s.labels.items()))] = s.value
    return out


def by_label(samples: dict[tuple[tuple[str, str], ...], float], label: str) -> dict[str, float]:
    return {dict(k)[label]: v for k, v in samples.items() if v}

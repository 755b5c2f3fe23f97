"""A tiny in-process metrics registry (counters with labels).

Subsystems create their counters at import time and increment them; a later
Prometheus ``/metrics`` endpoint renders ``REGISTRY.render()`` (text exposition
format 0.0.4; served at GET /metrics).  Values are per process: with ``--workers N`` each worker counts
what it did itself, as Prometheus expects of separately scraped processes.
"""
from __future__ import annotations

import threading
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass(slots=True)
class Counter:
    """A monotonically increasing value per combination of label values."""

    name: str
    help: str
    label_names: tuple[str, ...] = ()
    _values: dict[tuple[str, ...], float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _key(self, labels: dict[str, str]) -> tuple[str, ...]:
        if set(labels) != set(self.label_names):
            raise ValueError(f"{self.name} takes labels {self.label_names}, got {tuple(labels)}")
        return tuple(str(labels[n]) for n in self.label_names)

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        if amount < 0:
            raise ValueError("a counter only goes up")
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        return self._values.get(self._key(labels), 0.0)

    def samples(self) -> list[tuple[dict[str, str], float]]:
        with self._lock:
            items = list(self._values.items())
        return [(dict(zip(self.label_names, key)), value) for key, value in sorted(items)]


# hot-path metrics (no locks), histograms, gauges computed at scrape time -----

class FastCounter:
    """A counter keyed by a tuple of label values, incremented without a lock.

    For the request path: every operation runs on its worker's event loop thread, so a
    dict increment is enough (``inc_key``).  Other threads must use ``Counter``.
    """

    __slots__ = ("name", "help", "label_names", "values")

    def __init__(self, name: str, help: str, label_names: tuple[str, ...] = ()) -> None:
        self.name = name
        self.help = help
        self.label_names = tuple(label_names)
        self.values: dict[tuple[str, ...], float] = {}

    def inc_key(self, key: tuple[str, ...], amount: float = 1.0) -> None:
        values = self.values
        values[key] = values.get(key, 0.0) + amount

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        self.inc_key(tuple(str(labels[n]) for n in self.label_names), amount)

    def value(self, **labels: str) -> float:
        return self.values.get(tuple(str(labels[n]) for n in self.label_names), 0.0)

    def samples(self) -> list[tuple[dict[str, str], float]]:
        items = list(self.values.items())
        return [(dict(zip(self.label_names, key)), value) for key, value in sorted(items)]


# Prometheus' default latency buckets, in seconds (+Inf is implicit).
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Histogram:
    """Observations per label tuple: bucket counts (found with bisect), sum and count."""

    __slots__ = ("name", "help", "label_names", "buckets", "series")

    def __init__(self, name: str, help: str, label_names: tuple[str, ...] = (),
                 buckets: tuple[float, ...] = LATENCY_BUCKETS) -> None:
        self.name = name
        self.help = help
        self.label_names = tuple(label_names)
        self.buckets = tuple(sorted(buckets))
        self.series: dict[tuple[str, ...], list[float]] = {}  # [count per bucket..., +Inf count, sum]

    def observe_key(self, key: tuple[str, ...], value: float) -> None:
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = [0.0] * (len(self.buckets) + 2)
        series[bisect_left(self.buckets, value)] += 1
        series[-1] += value

    def observe(self, value: float, **labels: str) -> None:
        self.observe_key(tuple(str(labels[n]) for n in self.label_names), value)

    def render(self, lines: list[str]) -> None:
        lines.append(f"# HELP {self.name} {self.help}")
        lines.append(f"# TYPE {self.name} histogram")
        for key, series in sorted(self.series.items()):
            base = ",".join(f'{k}="{_escape(v)}"' for k, v in zip(self.label_names, key))
            sep = "," if base else ""
            running = 0.0
            for bound, count in zip(self.buckets, series):
                running += count
                lines.append(f'{self.name}_bucket{{{base}{sep}le="{_number(float(bound))}"}} {_number(running)}')
            running += series[len(self.buckets)]
            lines.append(f'{self.name}_bucket{{{base}{sep}le="+Inf"}} {_number(running)}')
            suffix = "{" + base + "}" if base else ""
            lines.append(f"{self.name}_sum{suffix} {_number(series[-1])}")
            lines.append(f"{self.name}_count{suffix} {_number(running)}")


class Gauge:
    """A value computed when scraped: ``collect()`` returns [(labels, value), ...]."""

    __slots__ = ("name", "help", "collect")

    def __init__(self, name: str, help: str, collect: Callable[[], list[tuple[dict[str, str], float]]]) -> None:
        self.name = name
        self.help = help
        self.collect = collect


class Registry:
    def __init__(self) -> None:
        self._metrics: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _get(self, name: str, factory: Callable[[], Any]) -> Any:
        with self._lock:
            existing = self._metrics.get(name)
            if existing is None:
                existing = self._metrics[name] = factory()
            return existing

    def counter(self, name: str, help: str, labels: tuple[str, ...] = ()) -> Counter:
        """The counter called ``name``, created on first use (same name: same counter)."""
        return self._get(name, lambda: Counter(name, help, tuple(labels)))

    def fast_counter(self, name: str, help: str, labels: tuple[str, ...] = ()) -> FastCounter:
        return self._get(name, lambda: FastCounter(name, help, tuple(labels)))

    def histogram(self, name: str, help: str, labels: tuple[str, ...] = (),
                  buckets: tuple[float, ...] = LATENCY_BUCKETS) -> Histogram:
        return self._get(name, lambda: Histogram(name, help, tuple(labels), buckets))

    def gauge(self, name: str, help: str,
              collect: Callable[[], list[tuple[dict[str, str], float]]]) -> Gauge:
        return self._get(name, lambda: Gauge(name, help, collect))

    def metrics(self) -> list[Any]:
        with self._lock:
            return list(self._metrics.values())

    def render(self) -> str:
        """Prometheus text exposition format."""
        lines: list[str] = []
        for metric in self.metrics():
            if isinstance(metric, Histogram):
                metric.render(lines)
                continue
            if isinstance(metric, Gauge):
                try:
                    samples = metric.collect()
                except Exception:  # a scrape must never fail because one gauge did
                    continue
                kind = "gauge"
            else:
                samples = metric.samples()
                kind = "counter"
            lines.append(f"# HELP {metric.name} {metric.help}")
            lines.append(f"# TYPE {metric.name} {kind}")
            for labels, value in samples:
                label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
                suffix = "{" + label_text + "}" if label_text else ""
                lines.append(f"{metric.name}{suffix} {_number(float(value))}")
        return "\n".join(lines) + "\n" if lines else ""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


REGISTRY = Registry()

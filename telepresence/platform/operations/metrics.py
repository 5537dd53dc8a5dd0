"""Prometheus metrics: what this process counted, and gauges read from the database.

Counters and histograms are per process (Prometheus scrapes every instance
and sums); fleet-wide gauges (devices online, lessons live, moves, alerts)
are computed from the database at each scrape by sources the composition
root registers, so every instance reports the same fleet figures and none
has to be asked in particular. Each app owns its own registry: no global
state, so tests can build many apps in one process.
"""

from __future__ import annotations

import logging
import platform
from collections.abc import Awaitable, Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncSession

from telepresence.platform.database import Database

__all__ = [
    "CONTENT_TYPE",
    "METRICS",
    "ClientMeasure",
    "FleetSource",
    "HttpLatencyLog",
    "Metrics",
    "import_outcome",
]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
FleetSource = Callable[[AsyncSession, datetime], Awaitable[list[Metric]]]
"""Reads fleet-wide figures from the database at a scrape (aware UTC ``now``)."""
ClientMeasure = str  # "join_first_frame" | "rejoin"
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CLIENT_BUCKETS = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 30.0, 60.0, 120.0)


class _PoolCollector(Collector):
    """The SQLAlchemy pool of this process: connections in use, idle, allowed overflow."""

    def __init__(self) -> None:
        self.database: Database | None = None

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily(
            "classbridge_db_pool_connections",
            "Database connections of this process's pool, by state.",
            labels=["state"],
        )
        pool: Any = self.database.engine.pool if self.database is not None else None
        if pool is not None and hasattr(pool, "checkedout"):
            gauge.add_metric(["in_use"], float(pool.checkedout()))
            gauge.add_metric(["idle"], float(pool.checkedin()))
            gauge.add_metric(["size"], float(pool.size()))
            gauge.add_metric(["overflow"], float(max(pool.overflow(), 0)))
        yield gauge


class _ReadCounter(Collector):
    """A counter this process keeps elsewhere (an attribute), read at each scrape."""

    def __init__(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        self.name, self.documentation, self.read = name, documentation, read

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(self.name, self.documentation, value=self.read())


class _Snapshot(Collector):
    """The metric families of one scrape (fleet gauges read just before)."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterator[Metric]:
        yield from self.families


class Metrics:
    """The metrics of one app: counters, histograms and the sources of fleet gauges."""

    def __init__(self, version: str = "unknown") -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        # process_cpu_seconds_total, process_resident_memory_bytes, open fds, start time.
        ProcessCollector(registry=r)
        Gauge(
            "classbridge_build_info",
            "This process's Classbridge and Python versions (the value is always 1).",
            ["version", "python"],
            registry=r,
        ).labels(version=version, python=platform.python_version()).set(1)
        self.http_seconds = Histogram(
            "classbridge_http_request_duration_seconds",
            "HTTP request time by route template (websocket and event streams excluded).",
            ["method", "route", "status"],
            buckets=HTTP_BUCKETS,
            registry=r,
        )
        self.signalling_messages = Counter(
            "classbridge_signalling_messages",
            "Session-socket messages received, by type and outcome.",
            ["type", "outcome"],
            registry=r,
        )
        self.signalling_errors = Counter(
            "classbridge_signalling_errors",
            "Session-socket messages refused, by reason.",
            ["reason"],
            registry=r,
        )
        self.join_first_frame = Histogram(
            "classbridge_join_first_frame_seconds",
            "Reported by clients: from joining a lesson to its first media (pupil: first "
            "decoded video frame; robot: media connected).",
            ["end"],
            buckets=CLIENT_BUCKETS,
            registry=r,
        )
        self.rejoin = Histogram(
            "classbridge_rejoin_seconds",
            "Reported by clients: from losing a lesson's media to having it again.",
            ["end"],
            buckets=CLIENT_BUCKETS,
            registry=r,
        )
        # Not ``job``: Prometheus gives every scraped series a ``job`` label of its own
        # (the scrape job's name) and would rename ours to ``exported_job``.
        self.job_runs = Counter(
            "classbridge_job_runs",
            "Timed job runs on this instance, by job name.",
            ["timed_job"],
            registry=r,
        )
        self.job_failures = Counter(
            "classbridge_job_failures",
            "Timed job runs that raised, by job name.",
            ["timed_job"],
            registry=r,
        )
        self.imports = Counter(
            "classbridge_timetable_imports",
            "Timetable uploads by outcome (imported, rejected, failed).",
            ["outcome"],
            registry=r,
        )
        self._pool = _PoolCollector()
        r.register(self._pool)
        self.fleet_sources: list[FleetSource] = []
        self.import_routes: set[tuple[str, str]] = set()

    def instance_gauge(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        """A gauge of this process's own state, read at each scrape (``read`` must be cheap)."""
        Gauge(name, documentation, registry=self.registry).set_function(read)

    def instance_counter(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        """A counter of this process kept elsewhere (``name`` without ``_total``), read at
        each scrape (``read`` must be cheap and never go down)."""
        self.registry.register(_ReadCounter(name, documentation, read))

    def watch_pool(self, database: Database) -> None:
        """Report this database's pool from now on."""
        self._pool.database = database

    def observe_client(self, measure: ClientMeasure, end: str, seconds: float) -> None:
        """Record a duration a client measured (``join_first_frame`` or ``rejoin``)."""
        histogram = self.join_first_frame if measure == "join_first_frame" else self.rejoin
        histogram.labels(end=end).observe(seconds)

    def job_ran(self, job: str, *, ok: bool) -> None:
        """Count one run of a timed job (``job`` is its name or function path, never an id)."""
        self.job_runs.labels(timed_job=job).inc()
        if not ok:
            self.job_failures.labels(timed_job=job).inc()

    def signalling(self, message_type: str, outcome: str = "ok") -> None:
        """Count one session-socket message; any outcome but ``ok`` is also an error."""
        self.signalling_messages.labels(type=message_type, outcome=outcome).inc()
        if outcome != "ok":
            self.signalling_errors.labels(reason=outcome).inc()

    async def render(self, database: Database, now: datetime) -> bytes:
        """The text exposition: this process's metrics, then the fleet's read now."""
        families: list[Metric] = []
        if self.fleet_sources:
            async with database.sessions() as session:
                for source in self.fleet_sources:
                    families.extend(await source(session, now))
        scrape = CollectorRegistry(auto_describe=False)
        scrape.register(_Snapshot(families))
        return generate_latest(self.registry) + generate_latest(scrape)


METRICS = web.AppKey("metrics", Metrics)


def import_outcome(status: int) -> str:
    """An upload's outcome from its HTTP status (a redirect is the page's success)."""
    if status < 400:
        return "imported"
    return "failed" if status >= 500 else "rejected"


def _route_of(request: BaseRequest) -> str:
    match_info = getattr(request, "match_info", None)
    resource = match_info.route.resource if match_info is not None else None
    return resource.canonical if resource is not None else "unmatched"


class HttpLatencyLog(AbstractAccessLogger):
    """aiohttp's access-log hook, used to time requests by route template.

    The hook runs once a request is done, so it costs a long-lived socket
    nothing while it lives (a middleware would keep one more frame per
    socket). Websockets (101) and event streams are left out: their
    duration is a connection's life, not latency.
    """

    def __init__(self, logger: logging.Logger, log_format: str) -> None:
        super().__init__(logger, log_format)

    @property
    def enabled(self) -> bool:
        return True

    def log(self, request: BaseRequest, response: web.StreamResponse, time: float) -> None:
        # A request aiohttp could not parse (a NUL in a header) was never routed: it has
        # no app, and ``request.app`` would assert instead of answering.
        metrics = None
        if isinstance(request, web.Request) and request._match_info is not None:
            metrics = request.app.get(METRICS)
        if metrics is None or response.status == 101:
            return
        if response.content_type == "text/event-stream":
            return
        route = _route_of(request)
        metrics.http_seconds.labels(
            method=request.method, route=route, status=str(response.status)
        ).observe(time)
        if (request.method, route) in metrics.import_routes:
            metrics.imports.labels(outcome=import_outcome(response.status)).inc()

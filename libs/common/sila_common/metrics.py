"""Prometheus metrics every service exposes on ``/metrics``."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_LATENCY = Histogram(
    "sila_http_request_duration_seconds",
    "HTTP request latency by route",
    ["service", "method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
OUTBOX_BACKLOG = Gauge("sila_outbox_backlog", "Outbox rows not yet published", ["service"])
OUTBOX_OLDEST_AGE = Gauge(
    "sila_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox row", ["service"]
)
OUTBOX_PUBLISHED = Counter("sila_outbox_published_total", "Events published", ["service"])
OUTBOX_REPLAYS = Counter(
    "sila_outbox_replays_total", "Times the event history was republished", ["service", "reason"]
)
CONSUMER_LAG = Gauge(
    "sila_consumer_lag", "Records behind the partition end", ["consumer", "topic", "partition"]
)
CONSUMER_PROCESSED = Counter(
    "sila_consumer_processed_total", "Events handled", ["consumer", "outcome"]
)
DLQ_COUNT = Counter("sila_dlq_total", "Records sent to a dead-letter topic", ["consumer", "topic"])

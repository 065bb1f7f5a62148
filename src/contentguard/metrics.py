"""Prometheus metrics, defined once for the process (the lowest layer: any layer may record).

`/metrics` of the HTTP service exposes the default registry, which holds these.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 10, 30)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)

HTTP_REQUESTS = Counter(
    "contentguard_http_requests_total", "HTTP requests by route and status.", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "contentguard_http_request_duration_seconds",
    "HTTP request latency by route.",
    ["method", "route"],
    buckets=_LATENCY_BUCKETS,
)
HTTP_IN_FLIGHT = Gauge("contentguard_http_requests_in_flight", "HTTP requests being served.")

MODEL_RUN_SECONDS = Histogram(
    "contentguard_model_run_seconds",
    "Duration of one batched model run.",
    ["model"],
    buckets=_LATENCY_BUCKETS,
)
MODEL_BATCH_SIZE = Histogram(
    "contentguard_model_batch_size", "Items in one model run.", ["model"], buckets=_BATCH_BUCKETS
)
DECISIONS = Counter(
    "contentguard_decisions_total", "Moderation outcomes by decision and label.", ["decision", "label"]
)
ITEM_ERRORS = Counter("contentguard_item_errors_total", "Items that failed, by error code.", ["code"])
QUEUE_DEPTH = Gauge("contentguard_queue_depth", "Images waiting for the models.")
TEXT_QUEUE_DEPTH = Gauge("contentguard_text_queue_depth", "Texts waiting for the models.")
FETCH_OUTCOMES = Counter(
    "contentguard_url_fetch_total",
    "URL fetches by outcome (ok or the error code).",
    ["outcome"],
)

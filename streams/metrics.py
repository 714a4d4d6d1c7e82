"""Prometheus metrics of the stream processors, named by Prometheus conventions."""

from prometheus_client import Counter, Gauge, Histogram

EVENTS_IN = Counter("linepulse_events_in_total", "Messages consumed", ["agent", "topic"])
EVENTS_OUT = Counter("linepulse_events_out_total", "Messages produced", ["topic"])
OUTPUTS_REFUSED = Counter(
    "linepulse_outputs_refused_total", "Outputs Kafka refused for good", ["topic"]
)
DEAD_LETTERS = Counter(
    "linepulse_dead_letters_total",
    "Messages sent to the dead-letter topic",
    ["source_topic", "error_type"],
)
LATE_EVENTS = Counter("linepulse_late_events_total", "Events later than the allowed lateness")
CONSUMER_LAG = Gauge(
    "linepulse_consumer_lag_messages",
    "Messages of an input partition not yet processed",
    ["topic", "partition"],
)
WATERMARK_DELAY = Gauge(
    "linepulse_watermark_delay_seconds", "Wall clock minus the partition watermark", ["partition"]
)
OEE_WINDOWS = Counter("linepulse_oee_windows_total", "OEE rows emitted", ["provisional"])
QUALITY_FINDINGS = Counter("linepulse_quality_findings_total", "Data-quality findings", ["rule"])
ANOMALY_SCORED = Counter("linepulse_anomaly_observations_total", "Observations scored")
MODELS_WARMING = Gauge("linepulse_anomaly_models_warming", "Sensor models still in warm-up")
ALERTS = Counter("linepulse_alerts_total", "Alert lifecycle steps emitted", ["kind", "status"])
SINK_ROWS = Counter("linepulse_sink_rows_total", "Rows written to ClickHouse", ["table"])
SINK_SKIPPED = Counter("linepulse_sink_skipped_total", "Messages the sink could not decode")
SINK_BATCH_ROWS = Histogram(
    "linepulse_sink_batch_rows",
    "Rows per ClickHouse insert batch",
    buckets=(1, 10, 100, 500, 1000, 5000, 10000, 50000),
)
SINK_BATCH_SECONDS = Histogram("linepulse_sink_batch_seconds", "Time to write one batch")
SINK_RETRIES = Counter("linepulse_sink_retries_total", "Batches retried after a ClickHouse error")
PROCESSING_SECONDS = Histogram(
    "linepulse_processing_seconds", "Time to process one message", ["agent"]
)
SINK_REPLAYED_ROWS = Counter(
    "linepulse_sink_replayed_rows_total",
    "Rows of re-read messages found already stored and not inserted again",
)
CLICKHOUSE_REACHABLE = Gauge(
    "linepulse_clickhouse_reachable",
    "1 while ClickHouse takes inserts, 0 while it cannot be reached",
)

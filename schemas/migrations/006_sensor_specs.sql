-- What each sensor is expected to send, as its connector declared it (latest per sensor).
CREATE TABLE IF NOT EXISTS linepulse.sensor_specs
(
    time         DateTime64(3, 'UTC'),
    asset        LowCardinality(String),
    sensor       LowCardinality(String),
    unit         LowCardinality(String),
    expected_min Nullable(Float64),
    expected_max Nullable(Float64),
    interval_ms  Nullable(Float64),
    source       String,
    event_id     String
)
ENGINE = ReplacingMergeTree(time)
ORDER BY (asset, sensor);

-- Every data-quality finding of a reading: duplicate, stuck, out of range, rate drift, silent.
CREATE TABLE IF NOT EXISTS linepulse.quality_findings
(
    time      DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    asset     LowCardinality(String),
    sensor    LowCardinality(String),
    rule      LowCardinality(String),
    value     Nullable(Float64),
    detail    String CODEC(ZSTD(1)),
    vin       String,
    operator  LowCardinality(String),
    work_order LowCardinality(String),
    event_id  String CODEC(ZSTD(1))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (asset, sensor, time)
TTL toDateTime(time) + INTERVAL 90 DAY;

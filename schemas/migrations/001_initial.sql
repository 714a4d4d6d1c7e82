-- LinePulse storage, version 1. Every time is UTC. Same DDL for chdb and a ClickHouse server.
CREATE DATABASE IF NOT EXISTS linepulse;

CREATE TABLE IF NOT EXISTS linepulse.sensor_readings
(
    time        DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    asset       LowCardinality(String),
    sensor      LowCardinality(String),
    value       Float64 CODEC(Gorilla, ZSTD(1)),
    unit        LowCardinality(String),
    quality     LowCardinality(String),
    vin         String,
    operator    LowCardinality(String),
    work_order  LowCardinality(String),
    event_id    String CODEC(ZSTD(1)),
    inserted_at DateTime64(3, 'UTC') DEFAULT now64(3) CODEC(DoubleDelta, ZSTD(1))
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(time)
ORDER BY (asset, sensor, time)
TTL toDateTime(time) + INTERVAL 30 DAY;

CREATE TABLE IF NOT EXISTS linepulse.sensor_seconds
(
    second        DateTime('UTC') CODEC(DoubleDelta, ZSTD(1)),
    asset         LowCardinality(String),
    sensor        LowCardinality(String),
    samples       UInt32,
    mean          Float64 CODEC(Gorilla, ZSTD(1)),
    min           Float64 CODEC(Gorilla, ZSTD(1)),
    max           Float64 CODEC(Gorilla, ZSTD(1)),
    rms           Float64 CODEC(Gorilla, ZSTD(1)),
    peak          Float64 CODEC(Gorilla, ZSTD(1)),
    crest_factor  Float64 CODEC(Gorilla, ZSTD(1)),
    kurtosis      Float64 CODEC(Gorilla, ZSTD(1)),
    band_low      Float32,
    band_mid      Float32,
    band_high     Float32,
    unit          LowCardinality(String),
    event_id      String CODEC(ZSTD(1)),
    inserted_at   DateTime64(3, 'UTC') DEFAULT now64(3) CODEC(DoubleDelta, ZSTD(1))
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(second)
ORDER BY (asset, sensor, second)
TTL second + INTERVAL 90 DAY;

CREATE TABLE IF NOT EXISTS linepulse.machine_events
(
    time        DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    asset       LowCardinality(String),
    kind        LowCardinality(String),
    state       UInt32,
    state_name  LowCardinality(String),
    reason      String,
    good        UInt32,
    scrap       UInt32,
    counter     LowCardinality(String),
    counter_value UInt64,
    vin         String,
    operator    LowCardinality(String),
    work_order  LowCardinality(String),
    event_id    String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (asset, time, event_id)
TTL toDateTime(time) + INTERVAL 365 DAY;

CREATE TABLE IF NOT EXISTS linepulse.mes_events
(
    time        DateTime64(3, 'UTC'),
    asset       LowCardinality(String),
    kind        LowCardinality(String),
    work_order  LowCardinality(String),
    product     LowCardinality(String),
    ideal_cycle_time_s Nullable(Float64),
    shift       LowCardinality(String),
    vin         String,
    operator    LowCardinality(String),
    detail      String,
    event_id    String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (asset, time, event_id)
TTL toDateTime(time) + INTERVAL 365 DAY;

CREATE TABLE IF NOT EXISTS linepulse.oee_windows
(
    asset          LowCardinality(String),
    level          LowCardinality(String),
    window         LowCardinality(String),
    window_start   DateTime64(3, 'UTC'),
    window_end     DateTime64(3, 'UTC'),
    version        UInt64,
    provisional    UInt8,
    availability   Nullable(Float64),
    performance    Nullable(Float64),
    quality        Nullable(Float64),
    oee            Nullable(Float64),
    planned_time_s Float64,
    run_time_s     Float64,
    unknown_time_s Float64,
    excluded_time_s Float64,
    ideal_time_s   Float64,
    good           UInt64,
    scrap          UInt64,
    total          UInt64,
    performance_over_one UInt8,
    losses_s       Map(LowCardinality(String), Float64),
    event_id       String
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(window_start)
ORDER BY (asset, window, window_start)
TTL toDateTime(window_start) + INTERVAL 730 DAY;

CREATE TABLE IF NOT EXISTS linepulse.anomaly_scores
(
    time        DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    asset       LowCardinality(String),
    sensor      LowCardinality(String),
    score       Float32,
    threshold   Float32,
    is_anomaly  UInt8,
    warming_up  UInt8,
    features    Map(LowCardinality(String), Float64),
    event_id    String
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(time)
ORDER BY (asset, sensor, time)
TTL toDateTime(time) + INTERVAL 90 DAY;

CREATE TABLE IF NOT EXISTS linepulse.alerts
(
    time        DateTime64(3, 'UTC'),
    alert_id    String,
    alert_kind  LowCardinality(String),
    status      LowCardinality(String),
    severity    LowCardinality(String),
    asset       LowCardinality(String),
    source      String,
    message     String,
    value       Nullable(Float64),
    threshold   Nullable(Float64),
    raised_at   DateTime64(3, 'UTC'),
    vin         String,
    station     LowCardinality(String),
    operator    LowCardinality(String),
    work_order  LowCardinality(String),
    event_id    String,
    inserted_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (alert_id, time, status)
TTL toDateTime(time) + INTERVAL 730 DAY;

CREATE TABLE IF NOT EXISTS linepulse.dead_letters
(
    time         DateTime64(3, 'UTC'),
    source_topic LowCardinality(String),
    partition    Int32,
    offset       Int64,
    error_type   LowCardinality(String),
    reason       String,
    key          String,
    payload      String CODEC(ZSTD(3)),
    event_id     String
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (source_topic, time)
TTL toDateTime(time) + INTERVAL 90 DAY;

-- Rollups kept by ClickHouse itself.
-- Sensor statistics per minute and per hour, from raw readings and per-second summaries of
-- sample batches (incremental materialized views; the sink stores each row once, so they add
-- each sample once). Readings of bad quality are left out.
CREATE TABLE IF NOT EXISTS linepulse.sensor_minutes
(
    minute        DateTime('UTC') CODEC(DoubleDelta, ZSTD(1)),
    asset         LowCardinality(String),
    sensor        LowCardinality(String),
    sample_count  SimpleAggregateFunction(sum, UInt64),
    value_sum     SimpleAggregateFunction(sum, Float64),
    value_squares SimpleAggregateFunction(sum, Float64),
    value_min     SimpleAggregateFunction(min, Float64),
    value_max     SimpleAggregateFunction(max, Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (asset, sensor, minute)
TTL minute + INTERVAL 730 DAY;

CREATE TABLE IF NOT EXISTS linepulse.sensor_hours
(
    hour          DateTime('UTC') CODEC(DoubleDelta, ZSTD(1)),
    asset         LowCardinality(String),
    sensor        LowCardinality(String),
    sample_count  SimpleAggregateFunction(sum, UInt64),
    value_sum     SimpleAggregateFunction(sum, Float64),
    value_squares SimpleAggregateFunction(sum, Float64),
    value_min     SimpleAggregateFunction(min, Float64),
    value_max     SimpleAggregateFunction(max, Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYear(hour)
ORDER BY (asset, sensor, hour)
TTL hour + INTERVAL 730 DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS linepulse.sensor_hours_from_minutes
TO linepulse.sensor_hours AS
SELECT toStartOfHour(minute) AS hour, asset, sensor,
       sum(sample_count) AS sample_count, sum(value_sum) AS value_sum,
       sum(value_squares) AS value_squares, min(value_min) AS value_min,
       max(value_max) AS value_max
FROM linepulse.sensor_minutes
GROUP BY asset, sensor, hour;

CREATE MATERIALIZED VIEW IF NOT EXISTS linepulse.sensor_minutes_from_readings
TO linepulse.sensor_minutes AS
SELECT toStartOfMinute(time) AS minute, asset, sensor,
       count() AS sample_count, sum(value) AS value_sum, sum(value * value) AS value_squares,
       min(value) AS value_min, max(value) AS value_max
FROM linepulse.sensor_readings
WHERE quality != 'bad'
GROUP BY asset, sensor, minute;

CREATE MATERIALIZED VIEW IF NOT EXISTS linepulse.sensor_minutes_from_seconds
TO linepulse.sensor_minutes AS
SELECT toStartOfMinute(second) AS minute, asset, sensor,
       sum(samples) AS sample_count, sum(mean * samples) AS value_sum,
       sum(rms * rms * samples) AS value_squares, min(min) AS value_min, max(max) AS value_max
FROM linepulse.sensor_seconds
GROUP BY asset, sensor, minute;

-- the rows stored before this migration (once: a rerun finds the rollup filled)
INSERT INTO linepulse.sensor_minutes
SELECT minute, asset, sensor, sample_count, value_sum, value_squares, value_min, value_max
FROM (
    SELECT toStartOfMinute(time) AS minute, asset, sensor,
           count() AS sample_count, sum(value) AS value_sum, sum(value * value) AS value_squares,
           min(value) AS value_min, max(value) AS value_max
    FROM linepulse.sensor_readings
    WHERE quality != 'bad'
    GROUP BY asset, sensor, minute
    UNION ALL
    SELECT toStartOfMinute(second) AS minute, asset, sensor,
           sum(samples) AS sample_count, sum(mean * samples) AS value_sum,
           sum(rms * rms * samples) AS value_squares, min(min) AS value_min, max(max) AS value_max
    FROM linepulse.sensor_seconds
    GROUP BY asset, sensor, minute
)
WHERE (SELECT count() FROM linepulse.sensor_minutes) = 0;

CREATE VIEW IF NOT EXISTS linepulse.sensor_1m AS
SELECT asset, sensor, minute, sum(sample_count) AS samples,
       sum(value_sum) / samples AS mean,
       sqrt(sum(value_squares) / samples) AS rms,
       sqrt(greatest(sum(value_squares) / samples - mean * mean, 0)) AS stddev,
       min(value_min) AS minimum, max(value_max) AS maximum
FROM linepulse.sensor_minutes
GROUP BY asset, sensor, minute;

CREATE VIEW IF NOT EXISTS linepulse.sensor_1h AS
SELECT asset, sensor, hour, sum(sample_count) AS samples,
       sum(value_sum) / samples AS mean,
       sqrt(sum(value_squares) / samples) AS rms,
       sqrt(greatest(sum(value_squares) / samples - mean * mean, 0)) AS stddev,
       min(value_min) AS minimum, max(value_max) AS maximum
FROM linepulse.sensor_hours
GROUP BY asset, sensor, hour;

-- OEE per day and per shift, recomputed every minute from the closed windows of the days a
-- window can still close in (events older than 7 days are refused), so re-emitted and late rows
-- never count twice. Query them with FINAL; the oee_daily and oee_by_shift views stay exact
-- to the second.
CREATE TABLE IF NOT EXISTS linepulse.oee_daily_rollup
(
    level           LowCardinality(String),
    asset           LowCardinality(String),
    day             DateTime('UTC'),
    planned_time_s  Float64,
    run_time_s      Float64,
    unknown_time_s  Float64,
    excluded_time_s Float64,
    ideal_time_s    Float64,
    good            UInt64,
    scrap           UInt64,
    total           UInt64,
    machine_windows UInt64,
    availability    Nullable(Float64),
    performance     Nullable(Float64),
    quality         Nullable(Float64),
    oee             Nullable(Float64),
    computed_at     DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYear(day)
ORDER BY (level, asset, day);

CREATE MATERIALIZED VIEW IF NOT EXISTS linepulse.oee_daily_refresh
REFRESH EVERY 1 MINUTE APPEND TO linepulse.oee_daily_rollup AS
SELECT *, now64(3) AS computed_at FROM linepulse.oee_daily
WHERE day >= toStartOfDay(now() - INTERVAL 8 DAY);

CREATE TABLE IF NOT EXISTS linepulse.oee_shift_rollup
(
    level           LowCardinality(String),
    asset           LowCardinality(String),
    shift           LowCardinality(String),
    shift_started   DateTime64(3, 'UTC'),
    planned_time_s  Float64,
    run_time_s      Float64,
    unknown_time_s  Float64,
    excluded_time_s Float64,
    ideal_time_s    Float64,
    good            UInt64,
    scrap           UInt64,
    total           UInt64,
    availability    Nullable(Float64),
    performance     Nullable(Float64),
    quality         Nullable(Float64),
    oee             Nullable(Float64),
    computed_at     DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYear(shift_started)
ORDER BY (level, asset, shift_started, shift);

CREATE MATERIALIZED VIEW IF NOT EXISTS linepulse.oee_shift_refresh
REFRESH EVERY 1 MINUTE APPEND TO linepulse.oee_shift_rollup AS
SELECT *, now64(3) AS computed_at FROM linepulse.oee_by_shift
WHERE shift_started >= now() - INTERVAL 9 DAY;

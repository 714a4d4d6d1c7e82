-- Condition monitoring: each second of a vibration sensor (velocity RMS, its ISO zone, the
-- bearing's defect evidence, the forecast of when the velocity reaches its limit), and the
-- alerts' own fields for it (zone, suspected component, evidence, forecast).
CREATE TABLE IF NOT EXISTS linepulse.vibration_seconds
(
    second               DateTime('UTC') CODEC(DoubleDelta, ZSTD(1)),
    asset                LowCardinality(String),
    sensor               LowCardinality(String),
    velocity_rms_mm_s    Float64 CODEC(Gorilla, ZSTD(1)),
    zone                 LowCardinality(String),
    held_zone            LowCardinality(String),
    shaft_rpm            Nullable(Float64),
    band_low_hz          Nullable(Float64),
    band_high_hz         Nullable(Float64),
    suspected            LowCardinality(String),
    bpfo_ratio           Nullable(Float64),
    bpfi_ratio           Nullable(Float64),
    bsf_ratio            Nullable(Float64),
    ftf_ratio            Nullable(Float64),
    predicted_limit      Nullable(Float64),
    predicted_limit_at   Nullable(DateTime64(3, 'UTC')),
    predicted_limit_low  Nullable(DateTime64(3, 'UTC')),
    predicted_limit_high Nullable(DateTime64(3, 'UTC')),
    vin                  String,
    operator             LowCardinality(String),
    work_order           LowCardinality(String),
    event_id             String CODEC(ZSTD(1)),
    inserted_at          DateTime64(3, 'UTC') DEFAULT now64(3) CODEC(DoubleDelta, ZSTD(1))
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(second)
ORDER BY (asset, sensor, second)
TTL second + INTERVAL 90 DAY;

ALTER TABLE linepulse.alerts
    ADD COLUMN IF NOT EXISTS zone LowCardinality(String) DEFAULT '',
    ADD COLUMN IF NOT EXISTS component LowCardinality(String) DEFAULT '',
    ADD COLUMN IF NOT EXISTS evidence Map(String, Float64),
    ADD COLUMN IF NOT EXISTS predicted_limit Nullable(Float64),
    ADD COLUMN IF NOT EXISTS predicted_limit_at Nullable(DateTime64(3, 'UTC')),
    ADD COLUMN IF NOT EXISTS predicted_limit_low Nullable(DateTime64(3, 'UTC')),
    ADD COLUMN IF NOT EXISTS predicted_limit_high Nullable(DateTime64(3, 'UTC'));

-- The latest second of every vibration sensor: what a planner sorts by time to limit. (The
-- latest row's fields are taken as one tuple: argMax of a Nullable column alone would skip the
-- NULLs and return an older forecast.)
CREATE OR REPLACE VIEW linepulse.vibration_condition_now AS
SELECT
    asset,
    sensor,
    last_second,
    latest.1 AS zone,
    latest.2 AS velocity_rms_mm_s,
    latest.3 AS suspected,
    latest.4 AS predicted_limit,
    latest.5 AS predicted_limit_at,
    latest.6 AS predicted_limit_low,
    latest.7 AS predicted_limit_high
FROM
(
    SELECT
        asset,
        sensor,
        max(second) AS last_second,
        argMax(
            (held_zone, velocity_rms_mm_s, suspected, predicted_limit, predicted_limit_at,
             predicted_limit_low, predicted_limit_high),
            second
        ) AS latest
    FROM linepulse.vibration_seconds
    GROUP BY asset, sensor
);

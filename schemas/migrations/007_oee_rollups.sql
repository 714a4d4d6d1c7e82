-- Hour, day and shift OEE per machine, summed by the stream from its closed base windows
-- (window '1h', '1d' or 'shift:<name>'); provisional rows while open, then the final one.
CREATE TABLE IF NOT EXISTS linepulse.oee_rollups AS linepulse.oee_windows
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(window_start)
ORDER BY (asset, window, window_start)
TTL toDateTime(window_start) + INTERVAL 730 DAY;

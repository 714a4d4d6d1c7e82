-- OEE rollups for analysts: closed 1-minute machine windows summed per machine, line and plant,
-- per hour and per UTC day. Ratios are recomputed from summed times and counts, never averaged.
CREATE VIEW IF NOT EXISTS linepulse.oee_closed AS
SELECT * FROM linepulse.oee_windows FINAL WHERE provisional = 0;

CREATE VIEW IF NOT EXISTS linepulse.oee_levels AS
SELECT level_asset.1 AS level, level_asset.2 AS group_asset, *
FROM linepulse.oee_closed
ARRAY JOIN [
    ('machine', asset),
    ('line', arrayStringConcat(arraySlice(splitByChar('/', asset), 1, 2), '/')),
    ('plant', splitByChar('/', asset)[1])
] AS level_asset;

CREATE VIEW IF NOT EXISTS linepulse.oee_hourly AS
SELECT level, group_asset AS asset, toStartOfHour(window_start) AS hour,
       sum(planned_time_s) AS planned_time_s, sum(run_time_s) AS run_time_s,
       sum(unknown_time_s) AS unknown_time_s, sum(excluded_time_s) AS excluded_time_s,
       sum(ideal_time_s) AS ideal_time_s, sum(good) AS good, sum(scrap) AS scrap,
       sum(total) AS total, count() AS machine_windows,
       run_time_s / nullIf(planned_time_s, 0) AS availability,
       ideal_time_s / nullIf(run_time_s, 0) AS performance,
       good / nullIf(total, 0) AS quality,
       availability * performance * quality AS oee
FROM linepulse.oee_levels
GROUP BY level, group_asset, hour;

CREATE VIEW IF NOT EXISTS linepulse.oee_daily AS
SELECT level, group_asset AS asset, toStartOfDay(window_start) AS day,
       sum(planned_time_s) AS planned_time_s, sum(run_time_s) AS run_time_s,
       sum(unknown_time_s) AS unknown_time_s, sum(excluded_time_s) AS excluded_time_s,
       sum(ideal_time_s) AS ideal_time_s, sum(good) AS good, sum(scrap) AS scrap,
       sum(total) AS total, count() AS machine_windows,
       run_time_s / nullIf(planned_time_s, 0) AS availability,
       ideal_time_s / nullIf(run_time_s, 0) AS performance,
       good / nullIf(total, 0) AS quality,
       availability * performance * quality AS oee
FROM linepulse.oee_levels
GROUP BY level, group_asset, day;

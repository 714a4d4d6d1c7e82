-- OEE of a group with planned time and no good part is 0, as in the stream and `linepulse oee`
-- (good x ideal cycle time / planned time is 0 whatever the cycle time): the views gave null
-- there. Quality of no part stays null (total 0 says why).
CREATE OR REPLACE VIEW linepulse.oee_hourly AS
SELECT level, group_asset AS asset, toStartOfHour(window_start) AS hour,
       sum(planned_time_s) AS planned_time_s, sum(run_time_s) AS run_time_s,
       sum(unknown_time_s) AS unknown_time_s, sum(excluded_time_s) AS excluded_time_s,
       sum(ideal_time_s) AS ideal_time_s, sum(good) AS good, sum(scrap) AS scrap,
       sum(total) AS total, count() AS machine_windows,
       run_time_s / nullIf(planned_time_s, 0) AS availability,
       ideal_time_s / nullIf(run_time_s, 0) AS performance,
       good / nullIf(total, 0) AS quality,
       if(availability IS NOT NULL AND good = 0, 0., availability * performance * quality) AS oee
FROM linepulse.oee_levels
GROUP BY level, group_asset, hour;

CREATE OR REPLACE VIEW linepulse.oee_daily AS
SELECT level, group_asset AS asset, toStartOfDay(window_start) AS day,
       sum(planned_time_s) AS planned_time_s, sum(run_time_s) AS run_time_s,
       sum(unknown_time_s) AS unknown_time_s, sum(excluded_time_s) AS excluded_time_s,
       sum(ideal_time_s) AS ideal_time_s, sum(good) AS good, sum(scrap) AS scrap,
       sum(total) AS total, count() AS machine_windows,
       run_time_s / nullIf(planned_time_s, 0) AS availability,
       ideal_time_s / nullIf(run_time_s, 0) AS performance,
       good / nullIf(total, 0) AS quality,
       if(availability IS NOT NULL AND good = 0, 0., availability * performance * quality) AS oee
FROM linepulse.oee_levels
GROUP BY level, group_asset, day;

CREATE OR REPLACE VIEW linepulse.oee_by_shift AS
SELECT l.level AS level, l.group_asset AS asset, s.shift AS shift, s.started AS shift_started,
       sum(l.planned_time_s) AS planned_time_s, sum(l.run_time_s) AS run_time_s,
       sum(l.unknown_time_s) AS unknown_time_s, sum(l.excluded_time_s) AS excluded_time_s,
       sum(l.ideal_time_s) AS ideal_time_s, sum(l.good) AS good, sum(l.scrap) AS scrap,
       sum(l.total) AS total,
       run_time_s / nullIf(planned_time_s, 0) AS availability,
       ideal_time_s / nullIf(run_time_s, 0) AS performance,
       good / nullIf(total, 0) AS quality,
       if(availability IS NOT NULL AND good = 0, 0., availability * performance * quality) AS oee
FROM linepulse.oee_levels AS l
ASOF INNER JOIN (
    SELECT asset, shift, time AS started
    FROM linepulse.mes_events WHERE kind = 'mes.shift.started'
) AS s ON l.asset = s.asset AND l.window_end > s.started
GROUP BY level, asset, shift, shift_started;

-- OEE per machine, line, plant and shift: each closed window belongs to the shift most
-- recently started on its machine before the window ends (MES shift events; ASOF join).
CREATE VIEW IF NOT EXISTS linepulse.oee_by_shift AS
SELECT l.level AS level, l.group_asset AS asset, s.shift AS shift, s.started AS shift_started,
       sum(l.planned_time_s) AS planned_time_s, sum(l.run_time_s) AS run_time_s,
       sum(l.unknown_time_s) AS unknown_time_s, sum(l.excluded_time_s) AS excluded_time_s,
       sum(l.ideal_time_s) AS ideal_time_s, sum(l.good) AS good, sum(l.scrap) AS scrap,
       sum(l.total) AS total,
       run_time_s / nullIf(planned_time_s, 0) AS availability,
       ideal_time_s / nullIf(run_time_s, 0) AS performance,
       good / nullIf(total, 0) AS quality,
       availability * performance * quality AS oee
FROM linepulse.oee_levels AS l
ASOF INNER JOIN (
    SELECT asset, shift, time AS started
    FROM linepulse.mes_events WHERE kind = 'mes.shift.started'
) AS s ON l.asset = s.asset AND l.window_end > s.started
GROUP BY level, asset, shift, shift_started;

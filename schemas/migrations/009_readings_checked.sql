-- Each finding names the reading it is about, and every stored reading can be read with its
-- verdict: `findings` lists the rules it broke (empty when none), `usable` says whether the
-- worker trained and scored on it (not bad at the source, not a duplicate, not stuck, in range).
ALTER TABLE linepulse.quality_findings ADD COLUMN IF NOT EXISTS reading_id String CODEC(ZSTD(1));

CREATE OR REPLACE VIEW linepulse.readings_checked AS
SELECT
    r.time AS time, r.asset AS asset, r.sensor AS sensor, r.value AS value, r.unit AS unit,
    r.quality AS quality, r.vin AS vin, r.operator AS operator, r.work_order AS work_order,
    r.event_id AS event_id,
    f.findings AS findings,
    r.quality != 'bad' AND NOT hasAny(f.findings, ['duplicate', 'stuck', 'out_of_range']) AS usable
FROM linepulse.sensor_readings AS r
LEFT JOIN
(
    SELECT reading_id, groupArray(rule) AS findings
    FROM linepulse.quality_findings
    WHERE reading_id != ''
    GROUP BY reading_id
) AS f ON r.event_id = f.reading_id;

-- The alarm lifecycle (ISA-18.2): every step's alarm state, version and actor, what people did
-- (acknowledged by and when, assignee, shelved until, comment), and the shift of its context.
ALTER TABLE linepulse.alerts
    ADD COLUMN IF NOT EXISTS alarm_state LowCardinality(String) DEFAULT '',
    ADD COLUMN IF NOT EXISTS version UInt32 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS actor String DEFAULT '',
    ADD COLUMN IF NOT EXISTS acknowledged_by String DEFAULT '',
    ADD COLUMN IF NOT EXISTS acknowledged_at Nullable(DateTime64(3, 'UTC')),
    ADD COLUMN IF NOT EXISTS assignee String DEFAULT '',
    ADD COLUMN IF NOT EXISTS shelved_until Nullable(DateTime64(3, 'UTC')),
    ADD COLUMN IF NOT EXISTS comment String DEFAULT '',
    ADD COLUMN IF NOT EXISTS shift LowCardinality(String) DEFAULT '';

-- One row per alarm: when it was raised, first acknowledged, cleared and closed, how long each
-- took (NULL while it has not happened), and how often it was escalated: MTTA and MTTR per
-- kind, asset and shift are averages over it (docs/queries.md).
CREATE OR REPLACE VIEW linepulse.alarm_times AS
SELECT
    alert_id,
    any(alert_kind) AS alert_kind,
    any(asset) AS asset,
    any(source) AS source,
    argMin(shift, time) AS shift,
    argMax(severity, time) AS severity,
    min(raised_at) AS raised,
    if(countIf(status = 'acknowledged') > 0, minIf(time, status = 'acknowledged'), NULL)
        AS acknowledged,
    if(countIf(status = 'cleared') > 0, minIf(time, status = 'cleared'), NULL) AS cleared,
    if(countIf(alarm_state = 'normal') > 0, minIf(time, alarm_state = 'normal'), NULL) AS closed,
    dateDiff('millisecond', raised, acknowledged) / 1000 AS seconds_to_acknowledge,
    dateDiff('millisecond', raised, cleared) / 1000 AS seconds_to_clear,
    countIf(status = 'escalated') AS escalations,
    argMax(alarm_state, (version, time)) AS alarm_state_now
FROM linepulse.alerts
GROUP BY alert_id;

-- Rework parts of production counts (not good in OEE quality, which is first-pass quality).
ALTER TABLE linepulse.machine_events ADD COLUMN IF NOT EXISTS rework UInt32 DEFAULT 0 AFTER scrap;

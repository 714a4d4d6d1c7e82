"""The pure core: what LinePulse computes, on plain data, with no Kafka, Faust or ClickHouse.

OEE from states and counts (`oee`), event-time windows and watermarks (`windows`), hour, day
and shift rollups (`rollups`), shift calendars (`calendar`), production context over time
(`context`), alert episodes (`alerts`), the anomaly detector (`anomaly`), per-second vibration
features (`features`), sensor health rules (`sensor_health`) and event-time checks
(`event_time`).
"""

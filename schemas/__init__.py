"""Event contracts, topic names and ClickHouse DDL of LinePulse."""

"""What LinePulse computes from the events and where it goes, read along the data path:

`core` (pure OEE, windows, anomaly, alerts) → `processors` (pure stateful steps over batches of
events and clock ticks) → `worker` (the thin Faust shell) → `store` (ClickHouse), with
`commands` for the CLI, the demo and the local brokers.
"""

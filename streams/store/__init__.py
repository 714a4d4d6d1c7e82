"""Storage: the ClickHouse client (embedded chdb or a server), how events become rows, the sink's
batch write and its exactly-once guard. No Faust here: the worker's sink agent calls it."""

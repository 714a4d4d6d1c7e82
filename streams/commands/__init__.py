"""The `linepulse` commands: the CLI and its flags, the demo, batch OEE over files, scoring a CSV,
export, queries through a running worker, and the local brokers for the demo and the tests."""

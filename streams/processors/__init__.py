"""Processors: the pure, stateful steps of the stream, tested without a broker.

A processor takes a batch of input messages (`Message`) and clock ticks, and returns what to
emit (`Outputs`: results, alert steps, dead letters). `snapshot(partition)` and
`restore(partition, ...)` hold everything it remembers of a partition, alert episodes included;
the Faust worker only decodes, calls it, sends its outputs and saves its snapshots.
"""

from streams.processors.protocol import Emit, Message, Outputs, Processor

__all__ = ["Emit", "Message", "Outputs", "Processor"]

"""The worker: a thin shell that reads Kafka, calls the processors and sends what they return.

`kafka_input` and `input_loop` hand the processors' shells (`runner`) batches from one
librdkafka consumer, `changelog` and `snapshots` keep their state in compacted topics,
`sink_agent` stores events in ClickHouse from a Faust agent, `feeds` read the whole-topic
production context and sensor specs, `offsets` tell how far the input has been read,
`model_checkpoints` keep detector models across restarts, `app` builds the Faust application that
runs it all as services, and `main` assembles it.
"""

"""The Faust worker: a thin shell that reads Kafka, calls the processors and sends what they
return.

`app` builds the Faust application and its narrow interfaces, the agents (`oee_agent`,
`sensor_agent`, `sink_agent`) only decode, call and send, `feeds` read the whole-topic production
context and sensor specs, `offsets` tell how far the input has been read, `model_checkpoints`
keep detector models across restarts, and `main` assembles and runs it all.
"""

"""The worker's output producer with no broker to take its messages: a stopping worker does not
count a step's outputs as sent, and a message Kafka could never take is refused, not fatal."""

from __future__ import annotations

import asyncio
import threading

import pytest

from connectors.loopback import free_port
from streams.settings import KafkaSettings
from streams.worker import producer as outputs
from streams.worker.producer import OutputProducer, OutputsNotSent


def _unreachable() -> OutputProducer:
    kafka = KafkaSettings(bootstrap=f"127.0.0.1:{free_port()}")
    return OutputProducer(kafka.confluent_config())  # librdkafka's lines to the Python log


async def test_a_step_stopped_before_kafka_took_its_outputs_is_not_settled(monkeypatch):
    monkeypatch.setattr(outputs, "STOP_WAIT_S", 1.0)
    producer = _unreachable()
    await producer.send("linepulse.alerts", b"asset", b"{}", None)
    settling = asyncio.ensure_future(producer.settle())
    await asyncio.sleep(1.5)
    assert not settling.done()  # the broker is away: the step waits, it does not move on
    threading.Thread(target=producer.close).start()
    with pytest.raises(OutputsNotSent):
        await asyncio.wait_for(settling, 10)
    assert producer.pending >= 1  # the message (librdkafka also counts its own requests)


async def test_an_output_larger_than_kafka_takes_is_refused_and_counted():
    producer = _unreachable()
    await producer.send("linepulse.dead-letters", b"asset", b"x" * (9 * 1024 * 1024), None)
    assert producer.refused == 1  # and send returned: the step goes on
    producer.close()

"""Create LinePulse's topics explicitly, with their configuration."""

from __future__ import annotations

from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from connectors.settings import KafkaSettings
from schemas.exceptions import LinePulseError
from schemas.topics import topic_specs


class TopicError(LinePulseError):
    """Topics could not be created or do not match what LinePulse needs."""


class BrokerUnreachableError(LinePulseError):
    """No Kafka broker answered at the configured address."""


def require_broker(kafka: KafkaSettings, timeout_s: float = 10.0) -> None:
    """Return once a broker answers at `kafka.bootstrap`; else one line saying where none did."""
    admin = AdminClient(kafka.confluent_config())
    try:
        admin.list_topics(timeout=timeout_s)
    except KafkaException as exc:
        settings = "LINEPULSE_KAFKA_BOOTSTRAP"
        if kafka.security_protocol != "PLAINTEXT":
            settings += " and the TLS/SASL settings (LINEPULSE_KAFKA_SECURITY_PROTOCOL, ...)"
        msg = (
            f"cannot reach Kafka at {kafka.bootstrap} within {timeout_s:.0f} s: check "
            f"{settings} and that the broker runs ({exc.args[0].str() if exc.args else exc})"
        )
        raise BrokerUnreachableError(msg) from None


def ensure_topics(
    kafka_config: dict[str, Any],
    partitions: int,
    replication_factor: int = 1,
    timeout_s: float = 30.0,
    names: frozenset[str] | None = None,
) -> list[str]:
    """Create missing topics (of `names` only, when given); returns those created. Existing
    topics must have `partitions`."""
    admin = AdminClient(kafka_config)
    existing = admin.list_topics(timeout=timeout_s).topics
    specs = [s for s in topic_specs(partitions) if names is None or s.name in names]
    for spec in specs:
        if spec.name in existing and len(existing[spec.name].partitions) != spec.partitions:
            msg = (
                f"topic {spec.name} has {len(existing[spec.name].partitions)} partitions, "
                f"LinePulse needs {spec.partitions} (co-partitioned inputs); set "
                "LINEPULSE_KAFKA_PARTITIONS to match or recreate the topic"
            )
            raise TopicError(msg)
    missing = [s for s in specs if s.name not in existing]
    if not missing:
        return []
    futures = admin.create_topics(
        [NewTopic(s.name, s.partitions, replication_factor, config=s.config) for s in missing],
        operation_timeout=timeout_s,
    )
    created = []
    for name, future in futures.items():
        try:
            future.result()
            created.append(name)
        except KafkaException as exc:
            if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":
                msg = f"cannot create topic {name}: {exc}"
                raise TopicError(msg) from exc
    return created


def consumer_lag(
    kafka_config: dict[str, Any], group: str, names: list[str], timeout_s: float = 10.0
) -> int:
    """Messages in `names` not yet committed by consumer group `group` (all partitions)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({**kafka_config, "group.id": group, "enable.auto.commit": False})
    try:
        metadata = consumer.list_topics(timeout=timeout_s).topics
        partitions = [
            TopicPartition(name, p)
            for name in names
            if name in metadata
            for p in metadata[name].partitions
        ]
        lag = 0
        for tp in consumer.committed(partitions, timeout=timeout_s):
            _, high = consumer.get_watermark_offsets(tp, timeout=timeout_s)
            lag += max(0, high - (tp.offset if tp.offset >= 0 else 0))
        return lag
    finally:
        consumer.close()

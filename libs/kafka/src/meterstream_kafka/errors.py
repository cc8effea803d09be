"""Errors of the Kafka package; every one derives from `KafkaError`."""

from __future__ import annotations


class KafkaError(Exception):
    """Root of the errors raised by meterstream_kafka."""


class LocalBrokerError(KafkaError):
    """The local Apache Kafka process could not be fetched, started or stopped."""

"""The parts of ``kit.consumer``'s :class:`~vigie_shared.kit.consumer.EventConsumer`, one rule
in one place: ``delivery`` (what happens to a record that fails, is malformed or is applied:
retries, dead letters, counting, spans), ``handlers`` (the handler path) and ``stores`` (the
store path). Services import the consumer from ``kit.consumer``, which names what they use."""

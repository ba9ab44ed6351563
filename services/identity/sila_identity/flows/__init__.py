"""Identity's use cases: the only code that opens transactions and records outbox events."""

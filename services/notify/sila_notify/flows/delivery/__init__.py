"""Sending what is queued: the dispatcher, its records, failover and reconciliation."""

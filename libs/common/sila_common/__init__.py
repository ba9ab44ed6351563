"""Sila's shared platform code: settings, database, outbox and relay, events, auth, errors.

Only what every service needs lives here; no business logic.
"""

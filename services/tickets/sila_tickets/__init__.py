"""Sila tickets service: complaints, requests, commitments (SLA) and incidents."""

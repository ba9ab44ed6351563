"""Loyalty's business rules: plain Python, no database, no HTTP."""

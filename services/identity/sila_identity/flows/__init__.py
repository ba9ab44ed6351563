"""Identity's use cases, one module per concept: the only code that opens transactions and
records events or audit entries (customers, contracts, interactions, privacy, admin,
login, geography, installations, the 2025 reform; ``audit`` records who read or changed
what). The log-in rules themselves (tokens, passwords, one-time codes, rate limits) are
``auth``; the name-search SQL is ``queries``.
"""

"""Sila identity service: customers, contracts, agents, authentication and the customer timeline."""

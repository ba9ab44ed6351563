"""Sila notify service: SMS, e-mail, push and partner webhooks, with consent and quiet hours."""

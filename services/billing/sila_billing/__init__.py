"""Sila billing: Offers, subscriptions, bills, recharges and e-payment."""

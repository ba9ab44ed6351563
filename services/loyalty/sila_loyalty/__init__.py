"""Sila loyalty: Bonuses, gifts, referral, tiers and campaigns."""

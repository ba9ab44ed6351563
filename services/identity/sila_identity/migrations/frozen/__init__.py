"""Code as old migrations ran it, frozen: today's domain may change, a past revision may not."""

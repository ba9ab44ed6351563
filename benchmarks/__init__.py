"""``make bench``: performance figures, never part of the tests."""

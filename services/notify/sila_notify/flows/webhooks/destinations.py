"""Where a webhook may go: the platform's one destination check (sila_common.destinations).

Checked when a subscription is saved and again before every delivery (a name can be
re-pointed at a private address after it was accepted); each delivery connects to the
address it checked.
"""

from __future__ import annotations

from sila_common.destinations import Destination, DestinationRefused, check_destination

__all__ = ["Destination", "DestinationRefused", "check_destination"]

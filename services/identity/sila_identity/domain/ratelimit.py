"""Fixed-window rate limits: how many hits a bucket may take per window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True, slots=True)
class Limit:
    """At most ``hits`` per ``window_seconds`` for one bucket (a phone, an IP...)."""

    name: str
    hits: int
    window_seconds: int

    def window_start(self, now: datetime) -> datetime:
        """The start of the window ``now`` falls in (windows are aligned on the epoch)."""
        epoch = int(now.timestamp())
        return datetime.fromtimestamp(epoch - epoch % self.window_seconds, tz=UTC)

    def retry_after(self, now: datetime) -> int:
        """Seconds until the next window opens (at least 1)."""
        end = self.window_start(now) + timedelta(seconds=self.window_seconds)
        return max(1, int((end - now).total_seconds() + 0.999))

    def bucket(self, key: str) -> str:
        return f"{self.name}:{key}"[:120]

"""The CloudEvents 1.0 envelope and the registry of Sila's event types.

Each service declares its event types (``declare_event``) with a pydantic payload
model; the registry feeds the outbox, the consumers and the generated catalogue.
"""

from __future__ import annotations

import builtins
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_BASE = "https://schemas.sila.algerietelecom.dz/events"
TYPE_PATTERN = re.compile(r"^(identity|tickets|billing|loyalty|notify)\.[a-z_]+\.[a-z_]+$")
SERVICES = ("identity", "tickets", "billing", "loyalty", "notify")


def topic_for(service: str) -> str:
    """One topic per service, keyed by customer id."""
    return f"sila.{service}"


def dlq_topic(topic: str) -> str:
    return f"{topic}.dlq"


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 event in structured JSON mode, with Sila's extensions."""

    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1)
    source: str = Field(pattern=r"^/sila/[a-z]+$")
    type: str = Field(min_length=3)
    time: datetime
    subject: str
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str
    customerid: str
    correlationid: str | None = None
    # The W3C trace context of the span that wrote the event (CloudEvents Distributed
    # Tracing extension): consumers continue the trace from it.
    traceparent: str | None = Field(
        default=None, pattern=r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"
    )
    data: dict[str, Any]

    @property
    def service(self) -> str:
        return self.source.rsplit("/", 1)[-1]

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> CloudEvent:
        return cls.model_validate_json(raw)


@dataclass(frozen=True)
class EventSpec:
    """One event type: its name, payload model and meaning."""

    type: str
    payload: builtins.type[BaseModel]
    description: str
    version: int = 1

    @property
    def service(self) -> str:
        return self.type.split(".", 1)[0]

    @property
    def topic(self) -> str:
        return topic_for(self.service)

    @property
    def dataschema(self) -> str:
        return f"{SCHEMA_BASE}/{self.type}.v{self.version}.json"

    def envelope(
        self,
        *,
        subject: str,
        customer_id: str,
        data: BaseModel,
        correlation_id: str | None = None,
        traceparent: str | None = None,
        event_id: str | None = None,
        time: datetime | None = None,
    ) -> CloudEvent:
        if not isinstance(data, self.payload):
            raise TypeError(f"{self.type} carries {self.payload.__name__}, not {type(data)}")
        return CloudEvent(
            id=event_id or str(uuid.uuid4()),
            source=f"/sila/{self.service}",
            type=self.type,
            time=time or datetime.now(UTC),
            subject=subject,
            dataschema=self.dataschema,
            customerid=customer_id,
            correlationid=correlation_id,
            traceparent=traceparent,
            data=data.model_dump(mode="json"),
        )


REGISTRY: dict[str, EventSpec] = {}


def declare_event(type_: str, payload: type[BaseModel], description: str) -> EventSpec:
    """Register an event type; a name is declared once, by the service that owns it."""
    if not TYPE_PATTERN.match(type_):
        raise ValueError(f"event type {type_!r} is not <service>.<entity>.<past-tense verb>")
    existing = REGISTRY.get(type_)
    if existing is not None and existing.payload is not payload:
        raise ValueError(f"event type {type_!r} is already declared")
    spec = EventSpec(type=type_, payload=payload, description=description)
    REGISTRY[type_] = spec
    return spec

"""What identity consumes: every service's events feed the customer timeline."""

from __future__ import annotations

from sila_common.consumer import ANY_TYPE
from sila_common.events import SERVICES, topic_for
from sila_common.service import ConsumerSpec
from sila_identity.settings import IdentitySettings
from sila_identity.timeline.projection import project, reset

TIMELINE = ConsumerSpec[IdentitySettings](
    name="identity.timeline",
    topics=[topic_for(service) for service in SERVICES],
    handlers={ANY_TYPE: project},
    reset=reset,
)

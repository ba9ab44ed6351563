"""Identity's runtime and event-handler context, typed with identity's own settings."""

from __future__ import annotations

from sila_common.consumer import HandlerContext
from sila_common.service import Runtime
from sila_identity.settings import IdentitySettings

IdentityRuntime = Runtime[IdentitySettings]
IdentityContext = HandlerContext[IdentitySettings]

"""Identity's settings (``SILA_IDENTITY_*``)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from sila_common.otp_transport import DEV_KEY, KEY_ENV, TransportKey
from sila_common.settings import ServiceSettings

# Verifiers allow this much clock skew past ``exp`` (sila_common.auth.TokenVerifier).
VERIFIER_LEEWAY_SECONDS = 5
# The services that look customers up in identity (each has a dev-only secret).
DEV_SERVICE_CLIENTS = ("tickets", "notify", "billing")
SERVICE_SCOPE = "customers:read"


class IdentitySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SILA_IDENTITY_", extra="ignore")

    service_name: str = "identity"
    port: int = 8001
    # The timeline consumer follows every service's events and is read right after they
    # happen (goal: p99 < 100 ms from the outbox to the timeline): with the embedded broker
    # a record waits up to half of this for the fetch to look again (ServiceSettings).
    consumer_fetch_max_wait_ms: int = Field(default=20, ge=0, le=30_000)
    # Encrypts the private signing keys at rest; the dev default is refused in prod.
    signing_key_passphrase: SecretStr = SecretStr("dev-only-signing-key-passphrase")
    # Keys the HMAC of one-time codes; the dev default is refused in prod.
    otp_secret: SecretStr = SecretStr("dev-only-otp-secret")
    # Seals each one-time code for notify in ``identity.otp.requested`` (AES-256-GCM), so the
    # code is never in clear on the broker or in the outbox. Shared with notify, unprefixed:
    # SILA_OTP_TRANSPORT_KEY (sila_common.otp_transport). The dev default is refused in prod.
    otp_transport_key: SecretStr = Field(
        default=SecretStr(DEV_KEY), validation_alias=AliasChoices(KEY_ENV, "otp_transport_key")
    )
    # Sila's own services (client id -> secret), which ask identity about a customer their
    # copy of the directory lacks: the client_credentials grant gives them a token of kind
    # ``service`` with the scope ``customers:read``. The dev secrets are refused in prod.
    service_clients: dict[str, SecretStr] = Field(
        default_factory=lambda: {
            name: SecretStr(f"dev-only-{name}-service-secret") for name in DEV_SERVICE_CLIENTS
        }
    )
    # Customers' and partners' access tokens.
    access_token_ttl_seconds: int = Field(default=900, ge=60, le=3600)
    # Agents' access tokens: with the verifiers' 5 s leeway, 55 s means a disabled agent's
    # token is refused everywhere within a minute. Unset in the test profile, where the
    # shared fixtures hold one agent token for the whole run, it falls back to the above.
    agent_access_token_ttl_seconds: int | None = Field(default=None, ge=10, le=3600)
    agent_refresh_token_ttl_seconds: int = Field(default=12 * 3600, ge=60)
    customer_refresh_token_ttl_seconds: int = Field(default=30 * 86400, ge=60)
    key_cache_seconds: float = Field(default=30.0, gt=0)
    # How long an identity process trusts its last answer to "is this account still usable"
    # (agent or partner not disabled, customer not erased); see auth/accounts.py.
    account_check_seconds: float = Field(default=2.0, ge=0)
    # Rate limits of one-time codes (requests) and of code guesses. The per-address limits
    # are loose because Algerian mobile operators put many customers behind one address
    # (carrier-grade NAT); the per-phone limit and the 5 guesses per code do the real work.
    otp_requests_per_phone_per_hour: int = Field(default=5, ge=1)
    otp_requests_per_ip_per_hour: int = Field(default=100, ge=1)
    otp_guesses_per_ip_per_hour: int = Field(default=300, ge=1)
    # Failed log-ins (wrong password, unknown client or secret, bad refresh token). Counted
    # per address and per account; an account is never locked (anyone could lock anyone out,
    # admin included): past the account's threshold each attempt is slowed down instead,
    # while the limits per address stop the guesser without stopping the owner elsewhere.
    login_failures_per_account_and_ip: int = Field(default=10, ge=1)
    login_failures_per_ip: int = Field(default=50, ge=1)
    login_failures_window_seconds: int = Field(default=900, ge=10)
    login_failures_before_slowing: int = Field(default=10, ge=1)
    login_slowdown_seconds: float = Field(default=1.0, ge=0, le=10)
    # argon2 verifications at once per process (each takes a core for tens of ms), run off
    # the event loop.
    password_checks_concurrency: int = Field(default=2, ge=1, le=64)
    # Behind the gateway, the client address is the last X-Forwarded-For entry (the one the
    # gateway appended); leave off when identity is reached directly.
    trust_forwarded_for: bool = False
    # Name search (PostgreSQL): every statement of a search is cut off after the first
    # (a 503, never a runaway query); the fuzzy trigram pass after the second, keeping what
    # the exact keys found. The fuzzy pass runs when the keys found nobody; with
    # search_fuzzy_fill also when they found fewer than asked (better recall of misspelt
    # names, but the trigram pass then runs on most searches within a wilaya and costs
    # up to the timeout each time on a large base).
    search_timeout_ms: int = Field(default=2000, ge=10)
    search_fuzzy_timeout_ms: int = Field(default=150, ge=10)
    search_fuzzy_fill: bool = False
    # How often the serve/relay roles check for customers and installations left in the
    # wilaya their commune was moved out of (by the reform's data or an admin's edit of the
    # map) and move them (flows/reform.py, follow_moved_communes).
    reform_follow_seconds: float = Field(default=60.0, gt=0)

    def transport_key(self) -> TransportKey:
        return _transport_key(self.otp_transport_key.get_secret_value())


@lru_cache(maxsize=4)
def _transport_key(secret: str) -> TransportKey:
    return TransportKey.from_secret(secret)


DEFAULT_AGENT_ACCESS_TOKEN_TTL_SECONDS = 60 - VERIFIER_LEEWAY_SECONDS


def get_settings() -> IdentitySettings:
    return IdentitySettings()

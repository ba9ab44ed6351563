"""Log-in against PostgreSQL: one-time codes, refresh rotation, revocation, partners,
disabled agents and key rotation."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import jwt
from sqlalchemy import update

from sila_common.settings import PlatformSettings, Profile, ServiceSettings
from sila_identity.api.auth import OTP_GRANT
from sila_identity.tables import otp_challenges
from tests.conftest import RUN_ID, create_agent, token_for
from tests.integration.identity.conftest import PASSWORD, Cast, events_of, register
from tests.support import (
    LiveService,
    bearer,
    live_service,
    otp_code_of,
    problem_of,
    random_mobile,
)


async def ask_code(identity: LiveService, phone: str) -> int:
    answer = await identity.client.post("/v1/auth/otp", json={"phone": phone})
    return answer.status_code


async def sent_code(identity: LiveService, customer_id: str) -> str:
    events = await events_of(identity, customer_id, "identity.otp.requested")
    return otp_code_of(events[-1]["data"], identity.runtime.settings)


async def otp_login(identity: LiveService, phone: str, code: str) -> tuple[int, dict[str, object]]:
    answer = await identity.client.post(
        "/v1/oauth/token", data={"grant_type": OTP_GRANT, "phone": phone, "code": code}
    )
    return answer.status_code, answer.json()


async def test_a_customer_logs_in_with_the_code_sent_by_sms_and_sees_their_own_data(
    identity: LiveService, cast: Cast
) -> None:
    customer = await register(identity, cast.agent_15, language="ar")
    national = "0" + customer["phone"][4:]
    assert await ask_code(identity, national) == 202
    [event] = await events_of(identity, customer["id"], "identity.otp.requested")
    assert event["data"]["phone"] == customer["phone"]
    assert event["data"]["language"] == "ar"
    # The event carries the code sealed for notify, never in clear; opened as notify does.
    assert "code" not in event["data"] and "sealed_code" in event["data"]
    code = otp_code_of(event["data"], identity.runtime.settings)
    assert code not in str(event)

    status, tokens = await otp_login(identity, national, code)
    assert status == 200, tokens
    claims = jwt.decode(str(tokens["access_token"]), options={"verify_signature": False})
    assert (claims["kind"], claims["customer_id"]) == ("customer", customer["id"])
    assert tokens["refresh_token"]
    own = await identity.client.get(
        f"/v1/customers/{customer['id']}", headers=bearer(str(tokens["access_token"]))
    )
    assert own.status_code == 200

    again, _ = await otp_login(identity, national, code)
    assert again == 400, "a code logs in once"


async def test_asking_a_code_for_a_number_nobody_has_looks_the_same_and_never_logs_in(
    identity: LiveService,
) -> None:
    phone = random_mobile()
    assert await ask_code(identity, phone) == 202
    status, body = await otp_login(identity, phone, "123456")
    assert status == 400
    assert body["error"] == "invalid_grant"


async def test_five_wrong_codes_burn_the_code_even_for_the_right_one_after(
    identity: LiveService, cast: Cast
) -> None:
    customer = await register(identity, cast.agent_15)
    await ask_code(identity, customer["phone"])
    code = await sent_code(identity, customer["id"])
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        status, _ = await otp_login(identity, customer["phone"], wrong)
        assert status == 400
    status, body = await otp_login(identity, customer["phone"], code)
    assert status == 400
    assert "ask for a new one" in str(body["detail"])


async def test_a_code_expires_after_five_minutes(identity: LiveService, cast: Cast) -> None:
    customer = await register(identity, cast.agent_15)
    await ask_code(identity, customer["phone"])
    code = await sent_code(identity, customer["id"])
    async with identity.runtime.session_factory() as session, session.begin():
        await session.execute(
            update(otp_challenges)
            .where(otp_challenges.c.phone == customer["phone"])
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    status, _ = await otp_login(identity, customer["phone"], code)
    assert status == 400


async def test_codes_for_one_phone_are_rate_limited(identity: LiveService) -> None:
    phone = random_mobile()
    statuses = [await ask_code(identity, phone) for _ in range(6)]
    assert statuses == [202] * 5 + [429]
    refused = await identity.client.post("/v1/auth/otp", json={"phone": phone})
    assert int(refused.headers["Retry-After"]) > 0


async def test_codes_from_one_address_are_rate_limited_across_phones(
    identity: LiveService,
    platform: PlatformSettings,
    settings_for: Callable[..., ServiceSettings],
) -> None:
    from sila_identity.service import definition

    settings = settings_for("identity", trust_forwarded_for=True, otp_requests_per_ip_per_hour=3)
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7"
    async with live_service(
        definition, platform=platform, settings=settings, with_workers=False
    ) as instance:
        statuses = [
            (
                await instance.client.post(
                    "/v1/auth/otp",
                    json={"phone": random_mobile()},
                    headers={"X-Forwarded-For": f"1.2.3.4, {address}"},
                )
            ).status_code
            for _ in range(4)
        ]
    assert statuses == [202, 202, 202, 429]


async def test_a_refresh_token_rotates_and_its_reuse_revokes_the_whole_session(
    identity: LiveService,
) -> None:
    username = f"rotating-{uuid.uuid4().hex[:6]}"
    await create_agent(identity, username, PASSWORD, ["agent"], ["15"])
    login = await identity.client.post(
        "/v1/oauth/token",
        data={"grant_type": "password", "username": username, "password": PASSWORD},
    )
    first = login.json()["refresh_token"]
    renewed = await identity.client.post(
        "/v1/oauth/token", data={"grant_type": "refresh_token", "refresh_token": first}
    )
    assert renewed.status_code == 200, renewed.text
    second = renewed.json()["refresh_token"]
    assert second != first

    replay = await identity.client.post(
        "/v1/oauth/token", data={"grant_type": "refresh_token", "refresh_token": first}
    )
    assert replay.status_code == 400
    assert "already used" in problem_of(replay)["detail"]
    after_theft = await identity.client.post(
        "/v1/oauth/token", data={"grant_type": "refresh_token", "refresh_token": second}
    )
    assert after_theft.status_code == 400, "the legitimate holder's token died with the family"


async def test_a_revoked_refresh_token_no_longer_renews_and_revoke_answers_200_for_anything(
    identity: LiveService,
) -> None:
    username = f"revoking-{uuid.uuid4().hex[:6]}"
    await create_agent(identity, username, PASSWORD, ["agent"], ["15"])
    login = await identity.client.post(
        "/v1/oauth/token",
        data={"grant_type": "password", "username": username, "password": PASSWORD},
    )
    refresh = login.json()["refresh_token"]
    revoked = await identity.client.post("/v1/oauth/revoke", data={"token": refresh})
    assert revoked.status_code == 200
    unknown = await identity.client.post("/v1/oauth/revoke", data={"token": "nonsense"})
    assert unknown.status_code == 200
    renewed = await identity.client.post(
        "/v1/oauth/token", data={"grant_type": "refresh_token", "refresh_token": refresh}
    )
    assert renewed.status_code == 400


async def test_logout_ends_the_session(identity: LiveService) -> None:
    username = f"leaving-{uuid.uuid4().hex[:6]}"
    await create_agent(identity, username, PASSWORD, ["agent"], ["15"])
    login = (
        await identity.client.post(
            "/v1/oauth/token",
            data={"grant_type": "password", "username": username, "password": PASSWORD},
        )
    ).json()
    out = await identity.client.post(
        "/v1/auth/logout",
        headers=bearer(login["access_token"]),
        json={"refresh_token": login["refresh_token"]},
    )
    assert out.status_code == 204
    renewed = await identity.client.post(
        "/v1/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": login["refresh_token"]},
    )
    assert renewed.status_code == 400


async def test_partners_get_the_scopes_they_were_granted_and_no_more(
    identity: LiveService, cast: Cast
) -> None:
    created = (
        await identity.client.post(
            "/v1/admin/identity/partners",
            headers=bearer(cast.admin),
            json={"name": "Baridi", "scopes": ["timeline:read", "customers:read"]},
        )
    ).json()
    form = {"grant_type": "client_credentials", "client_id": created["client_id"]}
    narrowed = await identity.client.post(
        "/v1/oauth/token",
        data=form | {"client_secret": created["client_secret"], "scope": "timeline:read"},
    )
    assert narrowed.status_code == 200
    assert narrowed.json()["scope"] == "timeline:read"
    assert "refresh_token" not in narrowed.json()
    basic = await identity.client.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(created["client_id"], created["client_secret"]),
    )
    assert basic.json()["scope"] == "customers:read timeline:read"
    too_much = await identity.client.post(
        "/v1/oauth/token",
        data=form | {"client_secret": created["client_secret"], "scope": "tickets:write"},
    )
    assert problem_of(too_much)["error"] == "invalid_scope"
    wrong = await identity.client.post("/v1/oauth/token", data=form | {"client_secret": "wrong"})
    assert wrong.status_code == 401
    assert problem_of(wrong)["error"] == "invalid_client"


async def test_a_disabled_agent_is_refused_at_once_by_identity_and_cannot_renew(
    identity: LiveService, cast: Cast
) -> None:
    username = f"leaver-{uuid.uuid4().hex[:6]}"
    agent_id = await create_agent(identity, username, PASSWORD, ["agent"], ["15"])
    login = (
        await identity.client.post(
            "/v1/oauth/token",
            data={"grant_type": "password", "username": username, "password": PASSWORD},
        )
    ).json()
    customer = await register(identity, cast.agent_15)
    url = f"/v1/customers/{customer['id']}"
    assert (
        await identity.client.get(url, headers=bearer(login["access_token"]))
    ).status_code == 200

    disabled = await identity.client.patch(
        f"/v1/admin/identity/agents/{agent_id}", headers=bearer(cast.admin), json={"disabled": True}
    )
    assert disabled.status_code == 200
    assert (
        await identity.client.get(url, headers=bearer(login["access_token"]))
    ).status_code == 401
    renewed = await identity.client.post(
        "/v1/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": login["refresh_token"]},
    )
    assert renewed.status_code == 400
    relogin = await identity.client.post(
        "/v1/oauth/token",
        data={"grant_type": "password", "username": username, "password": PASSWORD},
    )
    assert relogin.status_code == 400


async def test_outside_the_test_profile_agent_tokens_expire_within_a_minute_everywhere(
    identity: LiveService,
    platform: PlatformSettings,
    settings_for: Callable[..., ServiceSettings],
) -> None:
    from sila_identity.service import definition

    username = f"shortlived-{uuid.uuid4().hex[:6]}"
    await create_agent(identity, username, PASSWORD, ["agent"], ["15"])
    dev = platform.model_copy(update={"profile": Profile.DEV})
    async with live_service(
        definition, platform=dev, settings=settings_for("identity"), with_workers=False
    ) as instance:
        token = await token_for(instance, username, PASSWORD)
    claims = jwt.decode(token, options={"verify_signature": False})
    leeway = 5  # what every service's verifier tolerates past exp
    assert claims["exp"] - claims["iat"] + leeway <= 60


async def test_after_a_key_rotation_old_tokens_still_verify_and_new_ones_use_the_new_key(
    platform: PlatformSettings,
    settings_for: Callable[..., ServiceSettings],
    scratch_database: Callable[[str], Awaitable[str]],
) -> None:
    from sila_identity.service import definition

    # Its own database: rotating the shared instance's key would surprise other services.
    url = await scratch_database("identity")
    settings = settings_for("identity", database_url=url)
    async with live_service(
        definition, platform=platform, settings=settings, with_workers=False
    ) as instance:
        username = f"rotator-{RUN_ID}"
        await create_agent(instance, username, PASSWORD, ["admin"], ["*"])
        before = await token_for(instance, username, PASSWORD)
        rotated = await instance.client.post(
            "/v1/admin/identity/keys/rotate", headers=bearer(before)
        )
        assert rotated.status_code == 200
        kid = rotated.json()["kid"]
        after = await token_for(instance, username, PASSWORD)
        assert jwt.get_unverified_header(after)["kid"] == kid
        assert jwt.get_unverified_header(before)["kid"] != kid
        jwks = (await instance.client.get("/.well-known/jwks.json")).json()
        assert {kid, jwt.get_unverified_header(before)["kid"]} <= {k["kid"] for k in jwks["keys"]}
        for token in (before, after):
            answer = await instance.client.get("/v1/wilayas", headers=bearer(token))
            assert answer.status_code == 200


async def test_an_unknown_grant_type_is_a_clear_oauth_error(identity: LiveService) -> None:
    answer = await identity.client.post("/v1/oauth/token", data={"grant_type": "implicit"})
    assert answer.status_code == 400
    assert problem_of(answer)["error"] == "unsupported_grant_type"

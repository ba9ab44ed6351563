"""Name search against PostgreSQL: the exact keys (spelling or phonetic key per word, both
scripts, per wilaya), the ranking, and the fuzzy pass that completes a short answer."""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy import text

from tests.integration.identity.conftest import Cast, register
from tests.support import LiveService, bearer


def invented_surname() -> str:
    """A Latin surname no other test registers (its phonetic key is as rare as its spelling)."""
    syllables = (random.choice("bdfklmnrstz") + random.choice("aeiou") for _ in range(5))
    return "".join(syllables).capitalize()


async def search(identity: LiveService, token: str, q: str, **params: Any) -> list[str]:
    answer = await identity.client.get(
        "/v1/customers", headers=bearer(token), params={"q": q} | params
    )
    assert answer.status_code == 200, answer.text
    return [customer["id"] for customer in answer.json()]


async def test_the_spelling_as_typed_ranks_before_spellings_that_only_sound_alike(
    identity: LiveService, cast: Cast
) -> None:
    surname = invented_surname()
    ids = {}
    for first in ("Mouhamed", "Mohamed", "Mohammed", "Mahmoud"):
        ids[first] = (await register(identity, cast.admin, first_name=first, last_name=surname))[
            "id"
        ]

    found = await search(identity, cast.admin, f"Mohammed {surname}")
    assert found[0] == ids["Mohammed"]
    assert {ids["Mohamed"], ids["Mouhamed"]} <= set(found)
    found = await search(identity, cast.admin, f"mohamed {surname.upper()}")
    assert found[0] == ids["Mohamed"]


async def test_an_arabic_query_finds_the_customer_registered_in_latin_and_the_reverse(
    identity: LiveService, cast: Cast
) -> None:
    latin = await register(
        identity, cast.admin, first_name="Zoubir", last_name="Benhadid", wilaya_code="44"
    )
    arabic = await register(
        identity,
        cast.admin,
        first_name=None,
        last_name=None,
        first_name_ar="زبير",
        last_name_ar="بن حديد",
        wilaya_code="44",
    )

    assert latin["id"] in await search(identity, cast.admin, "زبير بن حديد")
    assert arabic["id"] in await search(identity, cast.admin, "Zoubir Benhadid")
    assert arabic["id"] in await search(identity, cast.admin, "Zoubir Ben Hadid", wilaya="44")


async def test_mohammed_mohamed_and_the_arabic_spelling_all_find_the_same_customer(
    identity: LiveService, cast: Cast
) -> None:
    surname = invented_surname()
    customer = await register(
        identity, cast.admin, first_name="Mohamed", last_name=surname, first_name_ar="محمد"
    )

    for first in ("Mohammed", "Mohamed", "محمد", "MOUHAMED", "Muhammad"):
        assert await search(identity, cast.admin, f"{first} {surname}") == [customer["id"]], first


async def test_a_search_stays_in_the_wilaya_asked_for_and_within_the_agents_wilayas(
    identity: LiveService, cast: Cast
) -> None:
    surname = invented_surname()
    in_15 = await register(identity, cast.admin, last_name=surname, wilaya_code="15")
    in_16 = await register(identity, cast.admin, last_name=surname, wilaya_code="16")

    assert await search(identity, cast.admin, surname) == sorted([in_15["id"], in_16["id"]])
    assert await search(identity, cast.admin, surname, wilaya="16") == [in_16["id"]]
    assert await search(identity, cast.admin, surname, wilaya="6") == []
    assert await search(identity, cast.agent_15, surname) == [in_15["id"]]
    assert await search(identity, cast.agent_15, surname, wilaya="16") == []


async def test_moving_or_renaming_a_customer_moves_them_in_the_search(
    identity: LiveService, cast: Cast
) -> None:
    surname, new_surname = invented_surname(), invented_surname()
    customer = await register(identity, cast.admin, last_name=surname, wilaya_code="15")

    moved = await identity.client.patch(
        f"/v1/customers/{customer['id']}",
        headers=bearer(cast.admin),
        json={"wilaya_code": "16"},
    )
    assert moved.status_code == 200, moved.text
    assert await search(identity, cast.admin, surname, wilaya="16") == [customer["id"]]
    assert await search(identity, cast.admin, surname, wilaya="15") == []

    renamed = await identity.client.patch(
        f"/v1/customers/{customer['id']}",
        headers=bearer(cast.admin),
        json={"last_name": new_surname},
    )
    assert renamed.status_code == 200, renamed.text
    assert await search(identity, cast.admin, new_surname, wilaya="16") == [customer["id"]]
    assert await search(identity, cast.admin, surname) == []


async def test_an_erased_customer_is_no_longer_found_by_name(
    identity: LiveService, cast: Cast
) -> None:
    surname = invented_surname()
    customer = await register(identity, cast.agent_15, last_name=surname)
    # Found; customers other tests registered with names that sound alike may be too.
    assert customer["id"] in await search(identity, cast.admin, surname)

    erased = await identity.client.post(
        f"/v1/customers/{customer['id']}/erasure", headers=bearer(cast.supervisor_15)
    )
    assert erased.status_code == 200, erased.text
    assert customer["id"] not in await search(identity, cast.admin, surname)


async def test_a_misspelling_the_keys_miss_is_still_found_by_the_fuzzy_pass(
    identity: LiveService, cast: Cast
) -> None:
    customer = await register(
        identity, cast.admin, first_name="Zoubir", last_name="Benhadid", wilaya_code="45"
    )

    # "Benhadit" has another phonetic key (bnhdt, not bnhd) but most of the trigrams.
    assert await search(identity, cast.admin, "Zoubir Benhadit", wilaya="45") == [customer["id"]]


async def test_two_misspelt_words_are_still_found_by_the_fuzzy_pass(
    identity: LiveService, cast: Cast
) -> None:
    customer = await register(
        identity, cast.admin, first_name="Zoubir", last_name="Benhadid", wilaya_code="46"
    )

    # Neither word's phonetic key is anyone's (zbrt, bnhdt): both are matched by trigrams.
    assert await search(identity, cast.admin, "Zoubirt Benhadit", wilaya="46") == [customer["id"]]


async def test_a_name_nobody_has_finds_nobody(identity: LiveService, cast: Cast) -> None:
    assert await search(identity, cast.admin, f"Qwyx {invented_surname()}") == []


async def test_two_common_words_find_the_compound_first_name_and_the_first_and_last_name(
    identity: LiveService, cast: Cast
) -> None:
    first, other = invented_surname(), invented_surname()
    compound = await register(identity, cast.admin, first_name=f"{first} {other}", last_name="Kaci")
    split = await register(identity, cast.admin, first_name=first, last_name=other)
    await register(identity, cast.admin, first_name=first, last_name="Kaci")

    expected = sorted([compound["id"], split["id"]])
    assert sorted(await search(identity, cast.admin, f"{first} {other}")) == expected
    assert sorted(await search(identity, cast.admin, f"{other} {first}")) == expected


async def test_a_customer_not_yet_indexed_with_pair_keys_is_still_found(
    identity: LiveService, cast: Cast
) -> None:
    first, last = invented_surname(), invented_surname()
    customer = await register(identity, cast.admin, first_name=first, last_name=last)
    async with identity.runtime.session_factory() as session, session.begin():
        await session.execute(
            text(
                "UPDATE customers SET name_keys = ARRAY(SELECT key FROM unnest(name_keys) AS key "
                "WHERE key NOT LIKE '&%') WHERE id = :id"
            ),
            {"id": customer["id"]},
        )

    assert await search(identity, cast.admin, f"{first} {last}") == [customer["id"]]

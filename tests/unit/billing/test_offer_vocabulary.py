"""One offer vocabulary: billing sells exactly the offers identity accepts a contract for
(``sila_common.offers``), under the same codes and names."""

from __future__ import annotations

from sila_billing.domain.offers import DEFAULT_OFFERS
from sila_common.offers import OFFER_CODES, OFFERS, offer_of


def test_billing_sells_every_offer_of_the_shared_vocabulary_and_no_other() -> None:
    codes = [offer.code for offer in DEFAULT_OFFERS]
    assert len(codes) == len(set(codes))
    assert set(codes) == OFFER_CODES


def test_billing_names_each_offer_by_its_french_name() -> None:
    for offer in DEFAULT_OFFERS:
        shared = offer_of(offer.code)
        assert shared is not None and offer.name == shared.name_fr


def test_every_offer_has_a_name_in_each_language_and_its_arabic_one_is_arabic() -> None:
    for offer in OFFERS:
        assert offer.name("fr") and offer.name("en") and offer.name("ar")
        assert any("\u0600" <= c <= "\u06ff" for c in offer.name("ar")), offer.code
        assert offer.name("kab") == offer.name_fr
    assert offer_of("IDOOM_MYSTERY") is None

"""Typed message templates: validation at save time, rendering per language."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from sila_notify.domain.sms import count_sms
from sila_notify.domain.templates import (
    Language,
    TemplateProblem,
    TemplateRenderError,
    VariableType,
    format_money,
    render,
    validate_template,
)

ALGIERS = ZoneInfo("Africa/Algiers")
LRI, RLI, PDI = "\u2066", "\u2067", "\u2069"

COMPLAINT_BODY = "Votre réclamation {ticket_number} sera traitée avant le {due_at:date}."
COMPLAINT_VARS = {"ticket_number": VariableType.STR, "due_at": VariableType.DATETIME}
COMPLAINT_VALUES = {
    "ticket_number": "TT-2026-000123",
    "due_at": datetime(2026, 1, 12, 14, 30, tzinfo=ALGIERS),
}


def codes(problems: list[TemplateProblem]) -> list[tuple[str, str | None]]:
    return [(problem.code, problem.name) for problem in problems]


def test_well_formed_template_has_no_problems() -> None:
    assert validate_template(COMPLAINT_BODY, COMPLAINT_VARS) == []


def test_placeholder_without_declaration_is_reported() -> None:
    problems = validate_template("Bonjour {first_name}", {})
    assert codes(problems) == [("unknown_placeholder", "first_name")]


def test_declared_variable_never_used_is_reported() -> None:
    problems = validate_template("Bonjour", {"first_name": "str"})
    assert codes(problems) == [("unused_variable", "first_name")]


def test_format_spec_the_type_does_not_take_is_reported() -> None:
    problems = validate_template("{amount:.2f} DA", {"amount": "money_centimes"})
    assert codes(problems) == [("bad_format_spec", "amount")]


def test_time_format_is_refused_on_a_plain_date() -> None:
    assert codes(validate_template("{day:time}", {"day": "date"})) == [("bad_format_spec", "day")]


@pytest.mark.parametrize("spec", ["", ":date", ":time", ":datetime"])
def test_datetime_takes_date_time_or_datetime_formats(spec: str) -> None:
    assert validate_template(f"{{at{spec}}}", {"at": "datetime"}) == []


def test_unknown_variable_type_is_reported() -> None:
    problems = validate_template("{points}", {"points": "float"})
    assert codes(problems) == [("unknown_type", "points")]


@pytest.mark.parametrize("body", ["Solde {", "Solde }", "Solde {amount"])
def test_unbalanced_braces_are_a_syntax_error(body: str) -> None:
    assert codes(validate_template(body, {"amount": "int"})) == [("syntax_error", None)]


@pytest.mark.parametrize("body", ["{}", "{0}", "{ticket.number}", "{ticket[0]}", "{ticket!r}"])
def test_placeholders_other_than_plain_names_are_refused(body: str) -> None:
    problems = validate_template(body, {"ticket": "str"})
    assert "bad_placeholder" in [problem.code for problem in problems]


def test_doubled_braces_are_literal_braces() -> None:
    assert validate_template("{{code}} {code}", {"code": "str"}) == []
    assert render("{{code}} {code}", {"code": "str"}, {"code": "42"}, "fr") == "{code} 42"


def test_all_problems_are_reported_together() -> None:
    problems = validate_template("{a:x} {b}", {"a": "int", "c": "str"})
    assert codes(problems) == [
        ("bad_format_spec", "a"),
        ("unknown_placeholder", "b"),
        ("unused_variable", "c"),
    ]


def test_empty_template_is_refused() -> None:
    assert codes(validate_template("  ", {})) == [("empty_body", None)]


def test_french_complaint_message_renders_the_due_date() -> None:
    text = render(COMPLAINT_BODY, COMPLAINT_VARS, COMPLAINT_VALUES, "fr")
    assert text == "Votre réclamation TT-2026-000123 sera traitée avant le 12/01/2026."


def test_datetime_is_shown_on_the_algiers_clock() -> None:
    body, variables = "Coupure jusqu'au {end}", {"end": "datetime"}
    end = datetime(2026, 1, 12, 13, 30, tzinfo=UTC)
    assert render(body, variables, {"end": end}, "fr") == "Coupure jusqu'au 12/01/2026 14:30"
    assert render(body, variables, {"end": end}, "en") == "Coupure jusqu'au 2026-01-12 14:30"
    assert render(body, variables, {"end": end}, "ar") == "Coupure jusqu'au 12/01/2026 14:30"


def test_late_evening_utc_falls_on_the_next_algiers_day() -> None:
    late = datetime(2026, 1, 12, 23, 30, tzinfo=UTC)
    assert render("{at:date}", {"at": "datetime"}, {"at": late}, "en") == "2026-01-13"
    assert render("{at:time}", {"at": "datetime"}, {"at": late}, "fr") == "00:30"


@pytest.mark.parametrize(
    ("language", "expected"),
    [("fr", "1 234,50 DA"), ("ar", "1.234,50 د.ج"), ("en", "DZD 1,234.50")],
)
def test_money_centimes_are_shown_as_dinars_per_language(language: Language, expected: str) -> None:
    assert format_money(123450, language) == expected


@pytest.mark.parametrize(
    ("centimes", "expected"),
    [(0, "0,00 DA"), (5, "0,05 DA"), (100, "1,00 DA"), (123456789, "1 234 567,89 DA")],
)
def test_money_edge_amounts_in_french(centimes: int, expected: str) -> None:
    assert format_money(centimes, "fr") == expected


def test_negative_amount_keeps_its_sign() -> None:
    assert format_money(-2500, "fr") == "-25,00 DA"
    assert format_money(-2500, "en") == "DZD -25.00"


def test_french_money_formatting_keeps_an_sms_in_gsm7() -> None:
    text = render("Montant: {amount}", {"amount": "money_centimes"}, {"amount": 123450}, "fr")
    assert count_sms(text).encoding == "GSM-7"


def test_arabic_bill_notice_uses_western_digits() -> None:
    body = "فاتورتكم بمبلغ {amount} مستحقة قبل {due:date}"
    variables = {"amount": "money_centimes", "due": "date"}
    text = render(body, variables, {"amount": 350000, "due": date(2026, 2, 15)}, "ar")
    assert text == "فاتورتكم بمبلغ 3.500,00 د.ج مستحقة قبل 15/02/2026"


def test_arabic_sms_carries_no_bidi_controls_by_default() -> None:
    body = "تمت معالجة شكواكم {ticket_number}"
    text = render(body, {"ticket_number": "str"}, {"ticket_number": "TT-2026-000123"}, "ar")
    assert text == "تمت معالجة شكواكم TT-2026-000123"


def test_arabic_push_isolates_latin_fragments_when_asked() -> None:
    body = "تمت معالجة شكواكم {ticket_number} قبل {due:date}"
    variables = {"ticket_number": "str", "due": "date"}
    values = {"ticket_number": "TT-2026-000123", "due": date(2026, 1, 12)}
    text = render(body, variables, values, "ar", bidi_isolates=True)
    assert text == f"تمت معالجة شكواكم {LRI}TT-2026-000123{PDI} قبل {LRI}12/01/2026{PDI}"


def test_arabic_values_in_arabic_text_are_not_isolated() -> None:
    body = "مرحبا {name}، رصيدكم {amount}"
    variables = {"name": "str", "amount": "money_centimes"}
    text = render(body, variables, {"name": "أمينة", "amount": 100}, "ar", bidi_isolates=True)
    assert text == "مرحبا أمينة، رصيدكم 1,00 د.ج"


def test_arabic_name_in_french_push_is_isolated_right_to_left() -> None:
    text = render("Bonjour {name}", {"name": "str"}, {"name": "أمينة"}, "fr", bidi_isolates=True)
    assert text == f"Bonjour {RLI}أمينة{PDI}"


def test_url_must_be_http_or_https() -> None:
    variables = {"link": "url"}
    assert render("{link}", variables, {"link": "https://idoom.dz/p"}, "fr") == "https://idoom.dz/p"
    with pytest.raises(TemplateRenderError) as error:
        render("{link}", variables, {"link": "javascript:alert(1)"}, "fr")
    assert codes(error.value.problems) == [("bad_value", "link")]


def test_values_of_the_wrong_type_are_refused() -> None:
    variables = {"n": "int", "amount": "money_centimes", "at": "datetime", "name": "str"}
    values = {"n": True, "amount": 12.5, "at": datetime(2026, 1, 12, 14, 30), "name": 7}
    with pytest.raises(TemplateRenderError) as error:
        render("{n} {amount} {at} {name}", variables, values, "fr")
    assert codes(error.value.problems) == [
        ("bad_value", "n"),
        ("bad_value", "amount"),
        ("bad_value", "at"),
        ("bad_value", "name"),
    ]


def test_aware_datetime_given_for_a_date_shows_its_algiers_day() -> None:
    late = datetime(2026, 1, 12, 23, 30, tzinfo=UTC)
    assert render("{day}", {"day": "date"}, {"day": late}, "fr") == "13/01/2026"


def test_missing_value_is_reported_once_even_if_used_twice() -> None:
    with pytest.raises(TemplateRenderError) as error:
        render("{code} puis {code}", {"code": "str"}, {}, "fr")
    assert codes(error.value.problems) == [("missing_value", "code")]


def test_values_not_declared_are_ignored() -> None:
    assert render("{code}", {"code": "int"}, {"code": 7, "extra": object()}, "en") == "7"


def test_rendering_an_invalid_template_raises_with_its_problems() -> None:
    with pytest.raises(TemplateRenderError) as error:
        render("{unknown}", {}, {}, "fr")
    assert codes(error.value.problems) == [("unknown_placeholder", "unknown")]


def test_unknown_language_is_refused() -> None:
    with pytest.raises(TemplateRenderError) as error:
        render("{code}", {"code": "int"}, {"code": 1}, "de")  # type: ignore[arg-type]
    assert codes(error.value.problems) == [("unknown_language", None)]

"""Scripts, questionnaires, incident areas and report arithmetic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sila_common.geography import reference
from sila_tickets.domain.catalogue import SUBCATEGORIES, ScriptAnswerError, check_script_answers
from sila_tickets.domain.incidents import (
    AreaKind,
    UnknownPlace,
    area_keys,
    area_value,
    resolve_place,
    service_matches,
)
from sila_tickets.domain.metrics import csat_score, median, nps, percentile
from sila_tickets.domain.questionnaire import (
    QuestionnaireError,
    check_answers,
    distribution,
    parse_questionnaire,
)
from sila_tickets.domain.sla import TicketCategory
from sila_tickets.seed import DATA_DIR, ticket_survey_document

THESIS = json.loads((DATA_DIR / "questionnaire-thesis.json").read_text(encoding="utf-8"))


def test_the_field_study_subcategories_exist_in_their_category() -> None:
    by_code = {sub.code: sub.category for sub in SUBCATEGORIES}
    assert by_code["no_connection"] is TicketCategory.TECHNICAL
    assert by_code["slow_line"] is TicketCategory.TECHNICAL
    assert by_code["line_cut"] is TicketCategory.TECHNICAL
    assert by_code["billing_dispute"] is TicketCategory.ADMINISTRATIVE
    assert by_code["change_of_address"] is TicketCategory.ADMINISTRATIVE
    assert by_code["contract_renewal"] is TicketCategory.ADMINISTRATIVE
    assert by_code["subscription_request"] is TicketCategory.COMMERCIAL


def script_of(code: str) -> list[dict[str, object]]:
    sub = next(s for s in SUBCATEGORIES if s.code == code)
    return [q.as_document() for q in sub.script]


def test_a_half_done_script_is_kept_with_the_required_questions_still_open() -> None:
    answers, missing = check_script_answers(script_of("no_connection"), {"modem_restarted": True})
    assert answers == {"modem_restarted": True}
    assert set(missing) == {"subscription_active", "modem_lights", "since"}


def test_script_answers_of_the_wrong_type_or_unknown_questions_are_refused() -> None:
    with pytest.raises(ScriptAnswerError) as refused:
        check_script_answers(script_of("slow_line"), {"measured_mbps": "fast", "colour": "red"})
    fields = {error["field"] for error in refused.value.errors}
    assert fields == {"answers.measured_mbps", "answers.colour"}


def test_the_thesis_questionnaire_loads_as_it_is() -> None:
    questionnaire = parse_questionnaire("thesis", THESIS)
    assert len(questionnaire.questions) == len(THESIS["questions"])
    assert questionnaire.question("q10_recommander") is not None


def test_multiple_choice_with_other_accepts_a_free_answer_and_counts_it() -> None:
    questionnaire = parse_questionnaire("thesis", THESIS)
    sheet = check_answers(
        questionnaire,
        {
            "q2_problemes": ["Temps d'attente long", {"other": "Pas de réponse après 3 appels"}],
            "q10_recommander": "Peut-être",
            "q1_pourquoi": "Trop d'attente",
        },
    )
    second = check_answers(questionnaire, {"q10_recommander": "Oui"})
    report = {entry["key"]: entry for entry in distribution(questionnaire, [sheet, second])}
    assert report["q10_recommander"]["counts"] == {"Oui": 1, "Non": 0, "Peut-être": 1}
    assert report["q2_problemes"]["counts"]["other"] == 1
    assert report["q2_problemes"]["counts"]["Temps d'attente long"] == 1
    assert report["q1_pourquoi"] == {
        "key": "q1_pourquoi",
        "text": "Pourquoi ?",
        "type": "open",
        "answered": 1,
    }


def test_answers_outside_the_options_or_the_scale_are_refused_field_by_field() -> None:
    survey = parse_questionnaire("survey", ticket_survey_document())
    with pytest.raises(QuestionnaireError) as refused:
        check_answers(survey, {"csat": 6, "nps": -1, "recommend": "perhaps", "x": 1})
    assert {e["field"] for e in refused.value.errors} == {
        "answers.csat",
        "answers.nps",
        "answers.recommend",
        "answers.x",
    }


def test_a_questionnaire_without_options_for_a_choice_is_refused() -> None:
    with pytest.raises(QuestionnaireError):
        parse_questionnaire("bad", {"questions": [{"key": "a", "type": "single_choice"}]})


def test_nps_is_promoters_minus_detractors_and_csat_the_share_of_4_and_5() -> None:
    assert nps([10, 9, 8, 7, 0]) == 20.0
    assert nps([]) is None
    assert csat_score([5, 4, 3, 1]) == 0.5


def test_median_and_nearest_rank_p90() -> None:
    assert median([1, 3, 2, 4]) == 2.5
    assert percentile(list(range(1, 11)), 90) == 9
    assert percentile([], 90) is None


def test_a_commune_is_named_by_code_or_by_name_in_either_script_whatever_the_accents() -> None:
    ref = reference()
    by_name = resolve_place(ref, AreaKind.COMMUNE, "Bou Saâda", "64")
    assert resolve_place(ref, AreaKind.COMMUNE, "بوسعادة", "64").code == by_name.code
    assert resolve_place(ref, AreaKind.COMMUNE, by_name.code, None).wilaya_code == "64"
    assert by_name.place.names()["ar"] == "بوسعادة"
    assert area_value(AreaKind.COMMUNE, by_name.code, "64") == by_name.code


def test_a_commune_of_another_wilaya_or_unknown_is_refused_naming_both() -> None:
    ref = reference()
    with pytest.raises(UnknownPlace, match=r"Bou Saâda.*not M'Sila"):
        resolve_place(ref, AreaKind.COMMUNE, "Bou Saada", "28")
    with pytest.raises(UnknownPlace, match="no commune of Tizi Ouzou"):
        resolve_place(ref, AreaKind.COMMUNE, "Atlantis", "15")
    daira = resolve_place(ref, AreaKind.DAIRA, "Bousaada", "64")
    assert daira.wilaya_code == "64" and daira.place.name_ar == "بوسعادة"


def test_a_line_belongs_to_its_olt_exchange_commune_daira_and_wilaya() -> None:
    keys = area_keys(wilaya_code="15", places=[("1501", "1501")], exchange="AZ-1", olt=None)
    assert [k for k, _ in keys] == [
        AreaKind.EXCHANGE,
        AreaKind.COMMUNE,
        AreaKind.DAIRA,
        AreaKind.WILAYA,
    ]


def test_an_incident_on_all_services_matches_any_ticket() -> None:
    assert service_matches("all", "adsl")
    assert service_matches("fibre", None)
    assert not service_matches("fibre", "adsl")


def test_data_folder_holds_the_copied_questionnaire() -> None:
    assert (Path(DATA_DIR) / "questionnaire-thesis.json").is_file()

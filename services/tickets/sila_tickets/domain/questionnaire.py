"""The survey engine: questionnaires as data, answers checked against them, distributions.

A questionnaire is a JSON document (the field study's annex loads as it is): questions of
type single_choice, multiple_choice (optionally with an "other" free answer), open, or a
numeric scale (csat 1-5, nps 0-10).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


class QuestionType(enum.StrEnum):
    SINGLE_CHOICE = "single_choice"
    MULTIPLE_CHOICE = "multiple_choice"
    OPEN = "open"
    SCALE = "scale"


OTHER = "other"


@dataclass(frozen=True)
class Question:
    key: str
    text: str
    type: QuestionType
    options: tuple[str, ...] = ()
    other: bool = False
    minimum: int = 0
    maximum: int = 10


@dataclass(frozen=True)
class Questionnaire:
    code: str
    title: str
    language: str
    questions: tuple[Question, ...]

    def question(self, key: str) -> Question | None:
        return next((q for q in self.questions if q.key == key), None)


class QuestionnaireError(ValueError):
    """A document or an answer sheet that does not fit; `errors` names each field at fault."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


def parse_questionnaire(code: str, document: Mapping[str, Any]) -> Questionnaire:
    """A questionnaire from its JSON document; raises QuestionnaireError on a bad one."""
    errors: list[dict[str, str]] = []
    questions: list[Question] = []
    seen: set[str] = set()
    raw_questions = document.get("questions")
    if not isinstance(raw_questions, list) or not raw_questions:
        raise QuestionnaireError([{"field": "questions", "message": "needs at least one"}])
    for index, raw in enumerate(raw_questions):
        where = f"questions[{index}]"
        if not isinstance(raw, Mapping):
            errors.append({"field": where, "message": "must be an object"})
            continue
        key = raw.get("key")
        if not isinstance(key, str) or not key or key in seen:
            errors.append({"field": f"{where}.key", "message": "missing or repeated"})
            continue
        seen.add(key)
        try:
            kind = QuestionType(str(raw.get("type")))
        except ValueError:
            errors.append({"field": f"{where}.type", "message": f"one of {list(QuestionType)}"})
            continue
        options = tuple(str(option) for option in raw.get("options") or ())
        if kind in (QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_CHOICE) and not options:
            errors.append({"field": f"{where}.options", "message": "a choice needs options"})
            continue
        questions.append(
            Question(
                key=key,
                text=str(raw.get("text", key)),
                type=kind,
                options=options,
                other=bool(raw.get("other", False)),
                minimum=int(raw.get("min", 0)),
                maximum=int(raw.get("max", 10)),
            )
        )
    if errors:
        raise QuestionnaireError(errors)
    return Questionnaire(
        code=code,
        title=str(document.get("title", code)),
        language=str(document.get("language", "fr")),
        questions=tuple(questions),
    )


def check_answers(questionnaire: Questionnaire, answers: Mapping[str, Any]) -> dict[str, Any]:
    """The answers in their canonical form; unanswered questions are simply absent.

    single_choice: one option; multiple_choice: a list of options, plus {"other": text}
    entries when the question allows it; open: a text; scale: an integer in range.
    """
    errors: list[dict[str, str]] = []
    clean: dict[str, Any] = {}
    for key, value in answers.items():
        question = questionnaire.question(key)
        field = f"answers.{key}"
        if question is None:
            errors.append({"field": field, "message": "not a question of this questionnaire"})
            continue
        problem, canonical = _check(question, value)
        if problem:
            errors.append({"field": field, "message": problem})
        else:
            clean[key] = canonical
    if errors:
        raise QuestionnaireError(errors)
    return clean


def _check(question: Question, value: Any) -> tuple[str | None, Any]:
    if question.type is QuestionType.SINGLE_CHOICE:
        if value in question.options:
            return None, value
        return f"expects one of {list(question.options)}", None
    if question.type is QuestionType.MULTIPLE_CHOICE:
        if not isinstance(value, list) or not value:
            return "expects a non-empty list of options", None
        chosen: list[Any] = []
        for item in value:
            if item in question.options and item not in chosen:
                chosen.append(item)
            elif question.other and isinstance(item, Mapping) and _is_text(item.get(OTHER)):
                chosen.append({OTHER: item[OTHER]})
            else:
                return f"expects options among {list(question.options)}", None
        return None, chosen
    if question.type is QuestionType.OPEN:
        return (None, value) if _is_text(value) else ("expects a text", None)
    in_range = isinstance(value, int) and not isinstance(value, bool)
    if in_range and question.minimum <= value <= question.maximum:
        return None, value
    return f"expects a whole number from {question.minimum} to {question.maximum}", None


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value.strip()) <= 2000


def distribution(
    questionnaire: Questionnaire, sheets: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Per question: how many answered, and for choices and scales the count per option.

    Open answers are counted, not quoted: free text may carry personal data.
    """
    sheets = list(sheets)
    report: list[dict[str, Any]] = []
    for question in questionnaire.questions:
        answered = [sheet[question.key] for sheet in sheets if question.key in sheet]
        entry: dict[str, Any] = {
            "key": question.key,
            "text": question.text,
            "type": question.type.value,
            "answered": len(answered),
        }
        if question.type is QuestionType.SINGLE_CHOICE:
            entry["counts"] = {option: answered.count(option) for option in question.options}
        elif question.type is QuestionType.MULTIPLE_CHOICE:
            counts = dict.fromkeys(question.options, 0)
            if question.other:
                counts[OTHER] = 0
            for chosen in answered:
                for item in chosen:
                    label = OTHER if isinstance(item, Mapping) else item
                    counts[label] = counts.get(label, 0) + 1
            entry["counts"] = counts
        elif question.type is QuestionType.SCALE:
            entry["counts"] = {
                str(value): answered.count(value)
                for value in range(question.minimum, question.maximum + 1)
            }
        report.append(entry)
    return report

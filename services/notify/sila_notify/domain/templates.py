"""Message templates with typed variables: checked when saved, rendered per language.

A body reads `Votre réclamation {ticket_number} sera traitée avant le {due_at:date}.`; each
placeholder names a declared variable, optionally with a format spec its type allows; `{{` and
`}}` stand for literal braces.

Formatting choices, all made so that the text stays cheap and legible on any handset:
- Digits are Western (0-9) in every language: Algeria writes Arabic with Western digits.
- Money is integer DZD centimes, always shown with two decimals: fr `1 234,50 DA`,
  ar `1.234,50 د.ج` (the ar-DZ separators), en `DZD 1,234.50`. French groups with a plain
  space rather than the typographic no-break space, which is outside the GSM 7-bit alphabet
  and would turn a cheap 160-character SMS into a 70-character UCS-2 one.
- Dates and times are shown in Africa/Algiers: fr and ar `12/01/2026 14:30`, en ISO-like
  `2026-01-12 14:30`. Integers are shown plain, without grouping (years, counts, codes).
- Bidirectional text: by default nothing is added, because SMS reaches feature phones that
  draw the Unicode 6.3 isolates as boxes, and each one costs a UCS-2 unit. For push and in-app
  messages, `bidi_isolates=True` wraps each value that runs against the text's direction
  (a ticket number TT-2026-000123 or a date in Arabic text, an Arabic name in French text) in
  U+2066/U+2067 ... U+2069 so that it cannot reorder its neighbours.
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Final, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

ALGIERS: Final = ZoneInfo("Africa/Algiers")

Language = Literal["fr", "ar", "en"]
LANGUAGES: Final[tuple[Language, ...]] = ("fr", "ar", "en")

LEFT_TO_RIGHT_ISOLATE: Final = "\u2066"
RIGHT_TO_LEFT_ISOLATE: Final = "\u2067"
POP_DIRECTIONAL_ISOLATE: Final = "\u2069"


class VariableType(StrEnum):
    STR = "str"
    INT = "int"
    MONEY_CENTIMES = "money_centimes"
    DATE = "date"
    DATETIME = "datetime"
    URL = "url"


# "" is the type's default rendering; a datetime can also be shown as its date or its time.
ALLOWED_FORMAT_SPECS: Final[Mapping[VariableType, frozenset[str]]] = {
    VariableType.STR: frozenset({""}),
    VariableType.INT: frozenset({""}),
    VariableType.MONEY_CENTIMES: frozenset({""}),
    VariableType.URL: frozenset({""}),
    VariableType.DATE: frozenset({"", "date"}),
    VariableType.DATETIME: frozenset({"", "datetime", "date", "time"}),
}

ProblemCode = Literal[
    "syntax_error",
    "empty_body",
    "bad_placeholder",
    "unknown_placeholder",
    "unused_variable",
    "bad_format_spec",
    "unknown_type",
    "bad_variable_name",
    "missing_value",
    "bad_value",
    "unknown_language",
]


@dataclass(frozen=True, slots=True)
class TemplateProblem:
    """One fault, `name` being the variable or placeholder at fault when there is one."""

    code: ProblemCode
    name: str | None
    detail: str


class TemplateRenderError(ValueError):
    def __init__(self, problems: list[TemplateProblem]) -> None:
        super().__init__("; ".join(problem.detail for problem in problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class _Placeholder:
    name: str
    spec: str


# A template is a sequence of literal text, each followed by an optional placeholder.
_Pieces = list[tuple[str, _Placeholder | None]]


def _parse(body: str) -> tuple[_Pieces, list[TemplateProblem]]:
    pieces: _Pieces = []
    problems: list[TemplateProblem] = []
    try:
        parsed = list(string.Formatter().parse(body))
    except ValueError as error:
        return [], [TemplateProblem("syntax_error", None, f"template syntax: {error}")]
    for literal, field_name, spec, conversion in parsed:
        if field_name is None:
            pieces.append((literal, None))
            continue
        shown = "{" + field_name + (f":{spec}" if spec else "") + "}"
        if not field_name.isidentifier():
            problems.append(
                TemplateProblem(
                    "bad_placeholder",
                    field_name or None,
                    f"{shown}: a placeholder is a variable name, without index or attribute",
                )
            )
        elif conversion is not None:
            problems.append(
                TemplateProblem(
                    "bad_placeholder",
                    field_name,
                    f"{shown}: conversions like !{conversion} are not allowed",
                )
            )
        pieces.append((literal, _Placeholder(field_name, spec or "")))
    return pieces, problems


def _declared_types(
    declared_vars: Mapping[str, VariableType | str],
) -> tuple[dict[str, VariableType], list[TemplateProblem]]:
    types: dict[str, VariableType] = {}
    problems: list[TemplateProblem] = []
    for name, declared in declared_vars.items():
        if not name.isidentifier():
            problems.append(
                TemplateProblem("bad_variable_name", name, f"{name!r} is not a valid name")
            )
            continue
        try:
            types[name] = VariableType(declared)
        except ValueError:
            known = ", ".join(member.value for member in VariableType)
            problems.append(
                TemplateProblem(
                    "unknown_type", name, f"{name}: unknown type {declared!r} (known: {known})"
                )
            )
    return types, problems


def validate_template(
    body: str, declared_vars: Mapping[str, VariableType | str]
) -> list[TemplateProblem]:
    """Every fault of a template, in the order met; [] when it may be saved."""
    pieces, problems = _parse(body)
    parsed = not any(problem.code == "syntax_error" for problem in problems)
    if not body.strip():
        problems.append(TemplateProblem("empty_body", None, "a template cannot be empty"))
    types, declaration_problems = _declared_types(declared_vars)
    problems += declaration_problems
    used: set[str] = set()
    for _, placeholder in pieces:
        if placeholder is None or not placeholder.name.isidentifier():
            continue
        used.add(placeholder.name)
        if placeholder.name not in declared_vars:
            problems.append(
                TemplateProblem(
                    "unknown_placeholder",
                    placeholder.name,
                    f"{{{placeholder.name}}} is not a declared variable",
                )
            )
            continue
        variable_type = types.get(placeholder.name)
        if variable_type is None:
            continue
        allowed = ALLOWED_FORMAT_SPECS[variable_type]
        if placeholder.spec not in allowed:
            choices = ", ".join(sorted(spec for spec in allowed if spec)) or "none"
            problems.append(
                TemplateProblem(
                    "bad_format_spec",
                    placeholder.name,
                    f"{{{placeholder.name}:{placeholder.spec}}}: a {variable_type.value} "
                    f"takes no such format (allowed: {choices})",
                )
            )
    if parsed:
        problems += [
            TemplateProblem("unused_variable", name, f"{name} is declared but never used")
            for name in declared_vars
            if name not in used
        ]
    return problems


def _group_thousands(number: int, separator: str) -> str:
    return f"{number:,}".replace(",", separator)


def format_money(centimes: int, language: Language) -> str:
    sign = "-" if centimes < 0 else ""
    dinars, cents = divmod(abs(centimes), 100)
    if language == "fr":
        return f"{sign}{_group_thousands(dinars, ' ')},{cents:02d} DA"
    if language == "ar":
        return f"{sign}{_group_thousands(dinars, '.')},{cents:02d} د.ج"
    return f"DZD {sign}{_group_thousands(dinars, ',')}.{cents:02d}"


def format_date(day: date, language: Language) -> str:
    if language == "en":
        return f"{day.year:04d}-{day.month:02d}-{day.day:02d}"
    return f"{day.day:02d}/{day.month:02d}/{day.year:04d}"


def format_datetime(moment: datetime, language: Language, spec: str = "datetime") -> str:
    """`moment` (aware) on the Algiers clock; spec is "datetime", "date" or "time"."""
    if moment.tzinfo is None:
        raise ValueError("a datetime to show must be aware")
    local = moment.astimezone(ALGIERS)  # OverflowError at the ends of the calendar
    clock = f"{local.hour:02d}:{local.minute:02d}"
    if spec == "time":
        return clock
    if spec == "date":
        return format_date(local.date(), language)
    return f"{format_date(local.date(), language)} {clock}"


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in {"http", "https"} and bool(parts.netloc)


def _format_value(
    value: object, variable_type: VariableType, spec: str, language: Language
) -> str | None:
    """The text for one value, or None when the value does not fit its type."""
    try:
        return _format_known(value, variable_type, spec, language)
    except OverflowError:
        return None  # year 1 at +14:00 or 9999 at -23:59: no Algiers clock shows it


def _format_known(
    value: object, variable_type: VariableType, spec: str, language: Language
) -> str | None:
    match variable_type:
        case VariableType.STR:
            return value if isinstance(value, str) else None
        case VariableType.URL:
            return value if isinstance(value, str) and _is_http_url(value) else None
        case VariableType.INT if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        case VariableType.MONEY_CENTIMES if isinstance(value, int) and not isinstance(value, bool):
            return format_money(value, language)
        case VariableType.DATETIME if isinstance(value, datetime) and value.tzinfo is not None:
            return format_datetime(value, language, spec or "datetime")
        case VariableType.DATE if isinstance(value, datetime):
            # A moment stands for the day it falls on in Algiers, so it must say where it is.
            return format_datetime(value, language, "date") if value.tzinfo else None
        case VariableType.DATE if isinstance(value, date):
            return format_date(value, language)
    return None


def _is_right_to_left(text: str) -> bool:
    return any(unicodedata.bidirectional(char) in {"R", "AL"} for char in text)


def _isolate_if_against_direction(text: str, language: Language) -> str:
    if not text:
        return text
    if language == "ar" and not _is_right_to_left(text):
        return LEFT_TO_RIGHT_ISOLATE + text + POP_DIRECTIONAL_ISOLATE
    if language != "ar" and _is_right_to_left(text):
        return RIGHT_TO_LEFT_ISOLATE + text + POP_DIRECTIONAL_ISOLATE
    return text


def render(
    body: str,
    declared_vars: Mapping[str, VariableType | str],
    values: Mapping[str, object],
    language: Language,
    *,
    bidi_isolates: bool = False,
) -> str:
    """The message text; raises TemplateRenderError listing every problem found.

    Values not declared are ignored, so an event payload can be passed whole.
    """
    problems = validate_template(body, declared_vars)
    if language not in LANGUAGES:
        problems.append(TemplateProblem("unknown_language", None, f"unknown language {language!r}"))
    if problems:
        raise TemplateRenderError(problems)
    types, _ = _declared_types(declared_vars)
    pieces, _ = _parse(body)
    rendered: list[str] = []
    for literal, placeholder in pieces:
        rendered.append(literal)
        if placeholder is None:
            continue
        if placeholder.name not in values:
            problems.append(
                TemplateProblem(
                    "missing_value", placeholder.name, f"no value for {placeholder.name}"
                )
            )
            continue
        variable_type = types[placeholder.name]
        text = _format_value(values[placeholder.name], variable_type, placeholder.spec, language)
        if text is None:
            problems.append(
                TemplateProblem(
                    "bad_value",
                    placeholder.name,
                    f"{placeholder.name}: {type(values[placeholder.name]).__name__} value "
                    f"is not a valid {variable_type.value}",
                )
            )
            continue
        rendered.append(_isolate_if_against_direction(text, language) if bidi_isolates else text)
    if problems:
        # The same variable may appear twice; say so once.
        raise TemplateRenderError(list(dict.fromkeys(problems)))
    return "".join(rendered)

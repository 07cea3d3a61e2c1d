"""Cross-field plausibility: what no single field's check can see (the catalog's ``rules``).

Each field is checked on its own by ``forms.validate`` (an ID's check digit, a date's
bounds). These rules read several answers, or an answer against today: a birth date not in
the future, a mother whose ID number says male, the same ID for both parents, a legal
representative under 18, a child too young for school. They are declared once in the
catalog (``rules:``), so every bundle that asks the fields gets them without a line of its
own, and their problems join the field problems in the one answer (一次性告知).

``today`` is always passed in (the engine's clock, as a Chinese date): the forms package
keeps no clock of its own, and tests can stand on any day.

May import: forms.catalog, forms.checks, forms.conditions, forms.validate.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from datetime import date
from typing import Any

from forms import conditions as cond
from forms.catalog import Catalog, Element, ElementType, Rule, RuleKind, Sex
from forms.checks import Format, check_resident_id
from forms.validate import FieldProblem

_SEX_WORDS: dict[str, tuple[str, str]] = {"male": ("男性", "male"), "female": ("女性", "female")}


def id_birth_date(value: str) -> date:
    """The birth date inside a (valid) resident ID: digits 7-14 are YYYYMMDD."""
    return date(int(value[6:10]), int(value[10:12]), int(value[12:14]))


def id_sex(value: str) -> Sex:
    """GB 11643: the 17th digit (the order code's last) is odd for men and even for women."""
    return "male" if int(value[16]) % 2 == 1 else "female"


def age_on(born: date, day: date) -> int:
    """Full years of age on ``day`` (周岁): a birthday counts from the day itself."""
    years = day.year - born.year
    if (day.month, day.day) < (born.month, born.day):
        years -= 1
    return years


def next_day_of_year(month_day: str, today: date) -> date:
    """The next ``MM-DD`` on or after today (29 February falls back to the 28th in other years)."""
    month, day = int(month_day[:2]), int(month_day[3:])
    for year in (today.year, today.year + 1):
        try:
            when = date(year, month, day)
        except ValueError:
            when = date(year, month, day - 1)
        if when >= today:
            return when
    raise AssertionError("unreachable: a day of next year is after today")  # pragma: no cover


def _valid(element: Element, value: Any, today: date) -> bool:
    """Whether a value is of the element's kind and passes its own check (else its field problem speaks)."""
    if not isinstance(value, str) or not value:
        return False
    if element.format is Format.RESIDENT_ID:
        return check_resident_id(value, today) is None
    if element.type is ElementType.DATE:
        try:
            date.fromisoformat(value)
        except ValueError:
            return False
        return True
    return True


def _birth_date(element: Element, value: str) -> date:
    return id_birth_date(value) if element.format is Format.RESIDENT_ID else date.fromisoformat(value)


def _condition_words(rule: Rule, catalog: Catalog) -> tuple[str, str]:
    if not rule.when:
        return "", ""
    when = cond.normalize(rule.when)
    return (
        f"({cond.describe(when, catalog.elements)}时)",
        f" (when {cond.describe(when, catalog.elements, 'en')})",
    )


def _range_words(rule: Rule) -> tuple[str, str]:
    low, high = rule.min_years, rule.max_years
    if low is not None and high is not None:
        return f"应在{low}至{high}周岁之间", f"must be {low} to {high} years old"
    if low is not None:
        return f"应年满{low}周岁", f"must be at least {low} years old"
    return f"应不超过{high}周岁", f"must be at most {high} years old"


class _Checker:
    """One application's answers against the catalog's rules, on one day."""

    def __init__(self, catalog: Catalog, data: Mapping[str, Any], today: date) -> None:
        self.catalog = catalog
        self.data = data
        self.today = today

    def element(self, name: str) -> Element:
        return self.catalog.elements[name]

    def problem(self, rule: Rule, zh: str, en: str) -> FieldProblem:
        first = self.element(rule.fields[0])
        when_zh, when_en = _condition_words(rule, self.catalog)
        return FieldProblem(
            first.key,
            f"{first.zh}：{zh}{when_zh}",
            f"{first.en}: {en}{when_en}",
            f"plausibility.{rule.kind.value}",
            fields=rule.fields,
        )

    def check(self, rule: Rule) -> Iterator[FieldProblem]:
        kind = rule.kind
        if kind is RuleKind.NOT_FUTURE:
            yield from self.not_future(rule)
        elif kind is RuleKind.ID_SEX:
            yield from self.sex(rule)
        elif kind is RuleKind.DISTINCT:
            yield from self.distinct(rule)
        elif kind is RuleKind.AGE:
            yield from self.age(rule)
        else:
            yield from self.same_birth_date(rule)

    def not_future(self, rule: Rule) -> Iterator[FieldProblem]:
        for name in rule.fields:
            element = self.element(name)
            when = date.fromisoformat(self.data[name])
            if when > self.today:
                yield FieldProblem(
                    name,
                    f"{element.zh}：不能晚于今天({self.today.isoformat()})，请核对",
                    f"{element.en}: cannot be later than today ({self.today.isoformat()}); please check it",
                    "plausibility.not_future",
                    fields=(name,),
                )

    def sex(self, rule: Rule) -> Iterator[FieldProblem]:
        value = self.data[rule.fields[0]]
        expected: Sex | None = rule.sex
        role_zh, role_en = "", ""
        if rule.sex_from is not None:
            chosen = self.data.get(rule.sex_from)
            expected = rule.sexes.get(chosen) if isinstance(chosen, str) else None
            if expected is None:
                return
            source = self.element(rule.sex_from)
            role_zh = f"，与{source.zh}“{source.enum_label(str(chosen))}”不符"
            role_en = f", which does not fit {source.en} '{source.enum_label(str(chosen), 'en')}'"
        if expected is None or id_sex(value) == expected:
            return
        found_zh, found_en = _SEX_WORDS[id_sex(value)]
        want_zh, want_en = _SEX_WORDS[expected]
        if role_zh:
            zh = f"号码第17位表示{found_zh}{role_zh}，请核对号码"
            en = f"the 17th digit says {found_en}{role_en}; please check the number"
        else:
            zh = f"号码第17位表示{found_zh}，此处应为{want_zh}的身份证号，请核对"
            en = f"the 17th digit says {found_en}, but this must be a {want_en}'s ID number; please check it"
        yield self.problem(rule, zh, en)

    def distinct(self, rule: Rule) -> Iterator[FieldProblem]:
        first, *others = rule.fields
        same = [name for name in others if self.data[name] == self.data[first]]
        if not same:
            return
        zh_names = "、".join(self.element(name).zh for name in same)
        en_names = ", ".join(self.element(name).en for name in same)
        yield self.problem(
            rule,
            f"与{zh_names}相同，应为不同的人，请核对",
            f"the same as {en_names}; they must be different people, please check it",
        )

    def age(self, rule: Rule) -> Iterator[FieldProblem]:
        element = self.element(rule.fields[0])
        born = _birth_date(element, self.data[element.key])
        day = self.today if rule.by is None else next_day_of_year(rule.by, self.today)
        years = age_on(born, day)
        low, high = rule.min_years, rule.max_years
        if (low is None or years >= low) and (high is None or years <= high):
            return
        range_zh, range_en = _range_words(rule)
        source_zh = "按号码中的出生日期" if element.format is Format.RESIDENT_ID else "按此日期"
        if rule.by is None:
            at_zh, at_en = f"目前为{years}周岁", f"{years} years old today"
        else:
            at_zh = f"截至{day.year}年{day.month}月{day.day}日为{years}周岁"
            at_en = f"{years} years old on {day.isoformat()}"
        yield self.problem(
            rule,
            f"{source_zh}，{at_zh}，{range_zh}，请核对",
            f"by its birth date, {at_en}; {range_en}, please check it",
        )

    def same_birth_date(self, rule: Rule) -> Iterator[FieldProblem]:
        date_field, id_field = rule.fields
        entered = date.fromisoformat(self.data[date_field])
        in_id = id_birth_date(self.data[id_field])
        if entered == in_id:
            return
        id_element = self.element(id_field)
        yield self.problem(
            rule,
            f"与{id_element.zh}中的出生日期({in_id.isoformat()})不一致，请核对",
            f"differs from the birth date in {id_element.en} ({in_id.isoformat()}); please check it",
        )


def applies(
    rule: Rule, fields: Collection[str], data: Mapping[str, Any], catalog: Catalog, today: date
) -> bool:
    """Whether a rule speaks: the form asks all its fields, each is valid, and its condition holds."""
    named = (*rule.fields, *((rule.sex_from,) if rule.sex_from else ()))
    if any(name not in fields for name in named):
        return False
    if any(not _valid(catalog.elements[name], data.get(name), today) for name in rule.fields):
        return False
    return cond.holds(cond.normalize(rule.when) if rule.when else None, data)


def plausibility_problems(
    catalog: Catalog, fields: Collection[str], data: Mapping[str, Any], today: date
) -> list[FieldProblem]:
    """Every rule broken by ``data`` on ``today`` (a Chinese date), among the rules over ``fields``.

    ``fields``: the fields the form holds (a rule over a field the form does not ask is not
    this form's). Values that fail their own field check are left to that check.
    """
    if not isinstance(data, Mapping):
        return []
    checker = _Checker(catalog, data, today)
    problems: list[FieldProblem] = []
    for rule in catalog.rules.values():
        if applies(rule, fields, data, catalog, today):
            problems.extend(checker.check(rule))
    return problems

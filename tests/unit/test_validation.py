"""The request-body rules of ``agentkeys.validation``: only storable text and finite numbers (by
inner JSON path), bounded free-form JSON, and one date rule for every date field."""

from __future__ import annotations

import math
import re
import typing
from collections.abc import Iterator
from typing import Any

import annotated_types
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import AfterValidator, ValidationError
from pydantic.fields import FieldInfo

import agentkeys.api.app  # noqa: F401 - imports every route, so every request body is defined
from agentkeys import validation
from agentkeys.redaction import REDACTED, redact_all
from agentkeys.validation import (
    EARLIEST_DAY,
    MAX_FREE_FORM_DEPTH,
    FreeFormObject,
    RequestBody,
    refuse_unstorable,
)

Path = tuple[int | str, ...]
storable_text = st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00")
keys = st.text(alphabet=storable_text, max_size=3)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(alphabet=storable_text, max_size=5)
    | st.floats(allow_nan=False, allow_infinity=False)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=12,
)
HOSTILE = ["a\ud800", "\udfff", "nul\x00", math.nan, math.inf, -math.inf]


def containers(value: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    if isinstance(value, (dict, list)):
        yield path, value
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            yield from containers(item, (*path, key))


def at(value: Any, path: Path) -> Any:
    for part in path:
        value = value[part]
    return value


def locations(error: ValidationError) -> list[Path]:
    return [tuple(entry["loc"]) for entry in error.errors()]


class TestRefuseUnstorable:
    @given(document=json_values)
    def test_storable_json_passes_unchanged(self, document: Any) -> None:
        assert refuse_unstorable(document) is document

    @given(document=json_values, data=st.data())
    def test_a_hostile_value_anywhere_is_refused_naming_its_path(
        self, document: Any, data: st.DataObject
    ) -> None:
        document = {"root": document}
        path, container = data.draw(st.sampled_from(list(containers(document))))
        if len(path) > MAX_FREE_FORM_DEPTH - 2:
            return
        hostile = data.draw(st.sampled_from(HOSTILE))
        if isinstance(container, dict):
            key = data.draw(keys)
            container[key] = hostile
            expected: Path = (*path, key)
        else:
            container.append(hostile)
            expected = (*path, len(container) - 1)
        assert at(document, expected) is hostile

        with pytest.raises(ValidationError) as raised:
            refuse_unstorable(document)

        assert expected in locations(raised.value)

    @pytest.mark.parametrize("key", ["\ud800", "a\x00"])
    def test_an_unstorable_key_is_named_by_its_object_not_by_itself(self, key: str) -> None:
        with pytest.raises(ValidationError) as raised:
            refuse_unstorable({"tags": {key: 1}})
        assert locations(raised.value) == [("tags",)]

    def test_nesting_beyond_the_limit_is_refused(self) -> None:
        deep: Any = 1
        for _ in range(MAX_FREE_FORM_DEPTH + 1):
            deep = [deep]
        with pytest.raises(ValidationError) as raised:
            refuse_unstorable(deep)
        assert locations(raised.value) == [(0,) * MAX_FREE_FORM_DEPTH]


class TestFreeFormFields:
    def test_a_python_caller_passing_a_non_json_value_gets_a_validation_error(self) -> None:
        class Body(RequestBody):
            info: FreeFormObject

        with pytest.raises(ValidationError):
            Body.model_validate({"info": {"when": object()}})


def request_bodies() -> list[type[RequestBody]]:
    found: list[type[RequestBody]] = []
    pending = list(RequestBody.__subclasses__())
    while pending:
        model = pending.pop()
        found.append(model)
        pending.extend(model.__subclasses__())
    return [model for model in found if model.__module__.startswith("agentkeys.")]


def metadata_of(field: FieldInfo) -> list[Any]:
    """Every constraint and validator on the field, including those inside ``X | None``."""
    found = list(field.metadata)
    pending: list[Any] = [field.annotation]
    while pending:
        annotation = pending.pop()
        if typing.get_origin(annotation) is typing.Annotated:
            for item in annotation.__metadata__:
                found.extend(item.metadata if isinstance(item, FieldInfo) else [item])
        pending.extend(typing.get_args(annotation))
    return found


DATE_LIKE = re.compile(r"(date|time|year)$", re.IGNORECASE)
RULE_VALIDATORS = {
    validation._day_text,
    validation._instant_text,
    validation._wall_clock_or_instant_text,
}


def follows_the_date_rule(field: FieldInfo) -> bool:
    metadata = metadata_of(field)
    validators = {item.func for item in metadata if isinstance(item, AfterValidator)}
    lower_bounds = {item.ge for item in metadata if isinstance(item, annotated_types.Ge)}
    return bool(validators & RULE_VALIDATORS) or bool(
        lower_bounds & {EARLIEST_DAY.year, int(validation.EARLIEST_INSTANT.timestamp())}
    )


class TestOneDateRule:
    def test_the_walk_finds_every_request_body(self) -> None:
        names = {model.__name__ for model in request_bodies()}
        assert {"PeriodBillRequestDto", "GetPriceSignalRequestDto", "UtilityRequestDTO"} <= names

    def test_every_date_and_instant_field_uses_the_one_rule(self) -> None:
        date_fields = [
            (model.__name__, field.alias or name)
            for model in request_bodies()
            for name, field in model.model_fields.items()
            if DATE_LIKE.search(field.alias or name)
        ]
        assert len(date_fields) >= 6, date_fields  # start/end date and time, year, effectiveOn
        offenders = [
            (model.__name__, name)
            for model in request_bodies()
            for name, field in model.model_fields.items()
            if DATE_LIKE.search(field.alias or name) and not follows_the_date_rule(field)
        ]
        assert offenders == []


class TestWholeBody:
    """The rule is applied to the body as sent: unknown fields too, at any depth, and lists of
    plain numbers take a fast path that must agree with the item-by-item walk."""

    class Inner(RequestBody):
        label: str = "x"

    class Outer(RequestBody):
        inner: TestWholeBody.Inner | None = None

    @pytest.mark.parametrize("hostile", HOSTILE)
    def test_an_unknown_field_of_a_nested_body_is_named_by_its_path(self, hostile: Any) -> None:
        with pytest.raises(ValidationError) as raised:
            self.Outer.model_validate({"inner": {"label": "ok", "extra": [[hostile]]}})
        assert locations(raised.value) == [("inner", "extra", 0, 0)]

    def test_unknown_fields_deeper_than_free_form_json_are_walked_without_a_depth_limit(
        self,
    ) -> None:
        deep: Any = math.nan
        for _ in range(200):
            deep = [deep]
        with pytest.raises(ValidationError) as raised:
            self.Outer.model_validate({"extra": deep})
        assert locations(raised.value) == [("extra", *(0,) * 200)]
        self.Outer.model_validate({"extra": [[[[[[[[[[[[[1]]]]]]]]]]]]]})

    def test_a_refused_body_does_not_stop_the_next_one_being_walked(self) -> None:
        for _ in range(2):
            with pytest.raises(ValidationError):
                self.Outer.model_validate({"inner": {"extra": math.inf}})

    @pytest.mark.parametrize(
        ("numbers", "refused"),
        [
            ([1e308, 1e308, -1e308], []),  # the sum overflows; every number is finite
            ([10**400, 1.5], []),  # an int too large for a float beside a float
            ([True, 2, 2.5], []),
            ([1.0, math.nan, 2.0, math.inf], [1, 3]),
            ([math.inf, -math.inf], [0, 1]),
            ([1, "a\x00", 2.0], [1]),
            ([], []),
        ],
    )
    def test_number_lists_are_judged_item_by_item_when_the_fast_path_cannot(
        self, numbers: list[Any], refused: list[int]
    ) -> None:
        found = validation._problems({"usage": [numbers]}, (), None)
        assert [tuple(problem["loc"]) for problem in found] == [("usage", 0, i) for i in refused]

    @given(
        numbers=st.lists(
            st.floats() | st.integers() | st.booleans() | st.sampled_from([1e308, -1e308]),
            max_size=20,
        )
    )
    def test_the_fast_path_agrees_with_the_definition(self, numbers: list[Any]) -> None:
        expected = [
            ("v", i)
            for i, number in enumerate(numbers)
            if isinstance(number, float) and not math.isfinite(number)
        ]
        found = validation._problems({"v": numbers}, (), None)
        assert [tuple(problem["loc"]) for problem in found] == expected

    def test_redaction_passes_number_lists_through_and_still_finds_keys_among_them(
        self,
    ) -> None:
        numbers = [0.5] * 96
        assert redact_all(numbers) is numbers
        mixed = [[0.5, 1], [2, "wsk_agent_abc123"]]
        assert redact_all(mixed) == [[0.5, 1], [2, REDACTED]]

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
RULE_VALIDATORS = {validation._day_text, validation._instant_text}


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

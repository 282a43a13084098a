"""The sandbox's answers: built with Python names, written with camelCase wire names.

(Request bodies, which also carry the storable-value rule, are ``validation.CamelRequestBody``.)
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class CamelResponse(BaseModel):
    """A response built with Python names and written with camelCase wire names."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        serialize_by_alias=True,
        # Each field's docstring is its description in the OpenAPI document.
        use_attribute_docstrings=True,
    )

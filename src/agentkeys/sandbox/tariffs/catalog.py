"""The sandbox catalog shipped with the package: a few real utilities and rate plans."""

from __future__ import annotations

from functools import cache
from importlib import resources

from agentkeys.sandbox.tariffs.model import Catalog


@cache
def load_catalog() -> Catalog:
    """Read and validate ``sandbox/tariffs/catalog.json`` once per process."""
    text = resources.files("agentkeys.sandbox.tariffs").joinpath("catalog.json").read_text("utf-8")
    return Catalog.model_validate_json(text)

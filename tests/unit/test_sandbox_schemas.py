"""Sandbox request DTOs keep the dates and instants they validated, parsed once."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from agentkeys.sandbox.bills import schemas as bill_schemas
from agentkeys.sandbox.bills.schemas import PeriodBillRequestDto
from agentkeys.sandbox.price_signal import schemas as price_signal_schemas
from agentkeys.sandbox.price_signal.schemas import GetPriceSignalRequestDto

DAY = [0.0] * 96


def never_again(_text: str) -> object:
    raise AssertionError("a validated date was parsed again on access")


def test_a_period_bill_keeps_its_days_as_dates(monkeypatch: pytest.MonkeyPatch) -> None:
    body = PeriodBillRequestDto.model_validate(
        {"startDate": "2026-02-01T23:30:00-08:00", "endDate": "2026-02-03", "usage": [DAY, DAY]}
    )
    monkeypatch.setattr(bill_schemas, "parse_day", never_again)

    assert (body.start, body.end) == (date(2026, 2, 1), date(2026, 2, 3))
    assert body.start_date == "2026-02-01T23:30:00-08:00"  # the wire text, as sent


def test_a_price_signal_window_keeps_its_instants(monkeypatch: pytest.MonkeyPatch) -> None:
    body = GetPriceSignalRequestDto.model_validate(
        {"startTime": "2026-07-01T00:00:00-07:00", "endTime": "2026-07-02T07:00:00Z"}
    )
    monkeypatch.setattr(price_signal_schemas, "parse_instant", never_again)

    assert body.window() == (
        datetime(2026, 7, 1, 7, tzinfo=UTC),
        datetime(2026, 7, 2, 7, tzinfo=UTC),
    )
    assert GetPriceSignalRequestDto.model_validate({}).window() is None

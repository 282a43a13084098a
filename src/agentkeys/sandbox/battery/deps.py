"""The battery feature's wiring: its service, the app's one estimator queue, its scope guard."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from agentkeys.api.context import app_context
from agentkeys.api.deps import SessionDep, require_scopes
from agentkeys.credentials.identity import AuthenticatedCredential
from agentkeys.credentials.scopes import Scope
from agentkeys.sandbox.battery.service import BatteryService, EstimatorQueue, Places
from agentkeys.sandbox.homes.deps import HomeServiceDep

BatteryEstimator = Annotated[
    AuthenticatedCredential, Depends(require_scopes(Scope.BATTERY_ESTIMATE))
]


def estimator_queue(request: Request) -> EstimatorQueue:
    """The app's one queue, in front of the CPU pool (made on first use; no await in between)."""
    state = request.app.state
    queue: EstimatorQueue | None = getattr(state, "battery_queue", None)
    if queue is None:
        queue = EstimatorQueue(app_context(request).cpu)
        state.battery_queue = queue
    return queue


def zip_places(request: Request) -> Places:
    """The app's geography (``agentkeys.sandbox.geo.Geography``, ``AppContext.geography``)."""
    # The geo feature and its context field are merged separately: read the field by name
    # until then (at merge: ``return app_context(request).geography``).
    places: Places = getattr(app_context(request), "geography")  # noqa: B009
    return places


async def battery_service(
    request: Request, homes: HomeServiceDep, session: SessionDep
) -> BatteryService:
    return BatteryService(
        homes,
        clock=app_context(request).clock,
        queue=estimator_queue(request),
        # Read-only: closing ends the read transaction and returns the pooled connection; the
        # unit of work's commit afterwards has nothing to do.
        release_session=session.close,
        places=zip_places(request),
    )


BatteryServiceDep = Annotated[BatteryService, Depends(battery_service)]

"""The webhook feature's wiring: built once by ``create_app`` (``app.state.webhooks``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentkeys.api.context import app_context
from agentkeys.api.deps import SessionDep
from agentkeys.clock import Clock
from agentkeys.config import Settings
from agentkeys.webhooks.delivery import WebhookDelivery
from agentkeys.webhooks.sealing import SecretBox
from agentkeys.webhooks.service import WebhookService


@dataclass(frozen=True, slots=True)
class WebhookWiring:
    box: SecretBox
    allow_private: bool
    delivery: WebhookDelivery

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        clock: Clock,
    ) -> WebhookWiring:
        box = SecretBox(settings.secret.get_secret_value().encode("utf-8"))
        delivery = WebhookDelivery(
            session_factory=session_factory,
            clock=clock,
            box=box,
            allow_private=settings.webhooks_allow_private,
            poll_seconds=settings.webhooks_poll_seconds,
        )
        return cls(box=box, allow_private=settings.webhooks_allow_private, delivery=delivery)


async def webhook_service(request: Request, session: SessionDep) -> WebhookService:
    wiring: WebhookWiring = request.app.state.webhooks
    return WebhookService(
        session,
        clock=app_context(request).clock,
        box=wiring.box,
        allow_private=wiring.allow_private,
    )


WebhookServiceDep = Annotated[WebhookService, Depends(webhook_service)]

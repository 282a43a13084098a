"""Every table of the service, imported in one place so the metadata is complete."""

from agentkeys.credentials.models import CredentialRecord, CredentialRequestRecord
from agentkeys.db.base import Base
from agentkeys.sandbox.feedback.models import FeedbackRecord
from agentkeys.sandbox.homes.models import HomeRecord

metadata = Base.metadata

__all__ = [
    "CredentialRecord",
    "CredentialRequestRecord",
    "FeedbackRecord",
    "HomeRecord",
    "metadata",
]

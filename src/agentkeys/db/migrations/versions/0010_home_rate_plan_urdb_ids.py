"""Stored homes name their rate plan by its URDB label: the catalog now identifies the four plans
it first shipped (PG&E E-TOU-C and E-1, SCE TOU-D-4-9PM, Duke Energy Carolinas RS) by their U.S.
Utility Rate Database labels, the ids WattShift answers, instead of the ids the sandbox made up.

The catalog still resolves the old ids (``Catalog.legacy_ids``), so a home missed here keeps
pricing; rewriting the column once means every answer carries the plan's current id without a
write on read. The mapping is frozen here, as the ids were when they changed (the catalog's
``legacyIds`` and ``tests/support/catalog.py`` hold the same pairs). A data change only: the
schema is the same. Downgrade writes the old ids back, the only ones the earlier code knows.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Former sandbox id → URDB label.
URDB_LABEL_OF = {
    "8fafe26c6f12cd7da414d3cd": "69de6fa62aa9e9994f0ed2bd",  # PG&E E-TOU-C
    "f32aedcaba2a8d4211e3f7d8": "69d92c23ac3477692606714c",  # PG&E E-1
    "70615ff74102db7043697d35": "66ccb7bfa7d4ef64fc07ad6b",  # SCE TOU-D-4-9PM
    "572cc796dcfa91eff80286e8": "6998c205a746c90e550cb23f",  # Duke Energy Carolinas RS
}

_HOMES = sa.table("homes", sa.column("rate_plan_id", sa.String(64)))


def _rewrite(mapping: dict[str, str]) -> None:
    for old, new in mapping.items():
        op.execute(_HOMES.update().where(_HOMES.c.rate_plan_id == old).values(rate_plan_id=new))


def upgrade() -> None:
    _rewrite(URDB_LABEL_OF)


def downgrade() -> None:
    _rewrite({new: old for old, new in URDB_LABEL_OF.items()})

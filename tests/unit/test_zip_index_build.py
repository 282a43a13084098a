"""The shipped ZIP index is what ``scripts/build_zip_index.py`` builds from the source data.

The source data is found as the script finds it (``AGENTKEYS_SOURCE_DATA``, else
``../shared/data`` next to the repository, else ``/work/shared/data``); the tests skip when it is
absent, or fail with ``AGENTKEYS_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

from tests.support.private_services import unavailable

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "build_zip_index.py"
SOURCES = (
    Path("eia-openei-zip") / "non_iou_zipcodes_2024.csv",
    Path("eia-861-territory") / "service_territory_2018.csv",
)


def source_data() -> Path:
    env = os.environ.get("AGENTKEYS_SOURCE_DATA")
    candidates = (
        [Path(env)] if env else [REPO.parent / "shared" / "data", Path("/work/shared/data")]
    )
    for path in candidates:
        if all((path / source).is_file() for source in SOURCES):
            return path
    unavailable("the source data (eia-openei-zip/, eia-861-territory/) is not here")


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--data", str(source_data()), *args],
        capture_output=True,
        text=True,
        check=False,
    )


def shipped_text() -> bytes:
    data = resources.files("agentkeys.sandbox.geo").joinpath("zips.json.gz").read_bytes()
    return gzip.decompress(data)


def test_the_shipped_index_is_what_the_script_builds(tmp_path: Path) -> None:
    run = run_script("--out", str(tmp_path))

    assert run.returncode == 0, run.stderr
    built = gzip.decompress((tmp_path / "zips.json.gz").read_bytes())
    assert built == shipped_text(), "run scripts/build_zip_index.py"
    counts = json.loads(run.stdout[: run.stdout.rindex("}") + 1])
    # The data's README: 28,009 rows for 19,230 ZIPs in the non-IOU file; 11,826 EIA-861 rows.
    assert counts["nonIouRows"] == 28_009
    assert counts["zipsWithZipMatch"] == 19_230
    assert counts["territoryRows"] == 11_826
    # zipcodes 3.0.0 has 41,749 ZIPs in the 50 states and DC; each is joined to a county one way.
    assert counts["zips"] == 41_749
    joined = counts["countyByName"] + counts["countyByAlias"] + counts["countyByNearestZip"]
    assert joined == 41_749


def test_check_passes_on_the_shipped_index_and_fails_on_another(tmp_path: Path) -> None:
    assert run_script("--check").returncode == 0

    (tmp_path / "zips.json.gz").write_bytes(gzip.compress(b"{}\n", mtime=0))
    stale = run_script("--check", "--out", str(tmp_path))
    assert stale.returncode == 1
    assert "out of date" in stale.stderr

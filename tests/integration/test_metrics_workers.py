"""A real `agentkeys serve --workers 2` (Redis shared): requests answered by both workers, and
every scrape, whichever worker answers it, counts them all (prometheus-client's multiprocess
mode). A killed worker's counts stay, its live gauge goes; the metrics directory is private and
removed at exit; the last uses are written at shutdown."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.support.databases import ServedDatabase
from tests.support.factories import credential_request, key_header
from tests.support.servers import RunningServer, running_server

SELF = "/v1/agent-credentials/self"
BATCH = 16
MAX_BATCHES = 25
DEADLINE_SECONDS = 60
OK = ("agentkeys_verifications_total", (("result", "ok"),))


def fresh(server: RunningServer, path: str, **kwargs: object) -> httpx.Response:
    """One request on a connection of its own, so the kernel may hand it to either worker."""
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        return client.request(kwargs.pop("method", "GET"), path, **kwargs)  # type: ignore[arg-type]


def scrape(server: RunningServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = fresh(server, "/metrics")
    assert answer.status_code == 200, answer.text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def metrics_directory(temporary: Path) -> Path:
    (directory,) = temporary.glob("agentkeys-metrics-*")
    return directory


def worker_pids(directory: Path) -> set[int]:
    return {int(path.stem.rsplit("_", 1)[1]) for path in directory.glob("counter_*.db")}


def ok_of_each_worker(directory: Path) -> dict[int, float]:
    """``agentkeys_verifications_total{result="ok"}`` as each worker's own file holds it."""
    counted = {}
    for pid in worker_pids(directory):
        (metric,) = [
            m
            for m in MultiProcessCollector.merge([str(directory / f"counter_{pid}.db")])  # type: ignore[no-untyped-call]
            if m.name == "agentkeys_verifications"
        ]
        counted[pid] = sum(
            s.value
            for s in metric.samples
            if s.name == "agentkeys_verifications_total" and s.labels == {"result": "ok"}
        )
    return counted


def poll(check: object, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


class TestTwoWorkers:
    def test_every_scrape_counts_both_workers(
        self, served_database: ServedDatabase, redis_url: str, tmp_path: Path
    ) -> None:
        temporary = tmp_path / "tmp"
        temporary.mkdir()
        environment = {
            "AGENTKEYS_REDIS_URL": redis_url,
            # The private metrics directory is made here, where the test can look into it.
            "TMPDIR": str(temporary),
            # No background flush: only the shutdown writes the last uses.
            "AGENTKEYS_LAST_USED_FLUSH_SECONDS": "300",
            # Not about webhooks: two workers' delivery loops would share the SQLite file.
            "AGENTKEYS_WEBHOOKS_DELIVER": "0",
        }
        with running_server(
            database_url=served_database.url,
            log_path=tmp_path / "server.log",
            extra_env=environment,
            arguments=("--workers", "2"),
        ) as server:
            directory = metrics_directory(temporary)
            assert directory.stat().st_mode & 0o777 == 0o700
            issued = fresh(
                server, "/v1/agent-credentials", method="POST", json=credential_request()
            )
            assert issued.json()["outcome"] == "issued", issued.text
            key = key_header(issued.json()["credential"])

            # Until both workers have verified the key (each connection goes to either).
            sent = 0
            with ThreadPoolExecutor(max_workers=BATCH) as pool:
                for _ in range(MAX_BATCHES):
                    answers = list(
                        pool.map(lambda _: fresh(server, SELF, headers=key), range(BATCH))
                    )
                    assert {answer.status_code for answer in answers} == {200}
                    sent += BATCH
                    by_worker = ok_of_each_worker(directory)
                    if len(by_worker) == 2 and all(by_worker.values()):
                        break
            by_worker = ok_of_each_worker(directory)
            assert len(by_worker) == 2, by_worker
            assert all(by_worker.values()), by_worker
            assert sum(by_worker.values()) == sent

            assert fresh(server, SELF).status_code == 401
            assert fresh(server, SELF, headers=key_header("wsk_agent_nope")).status_code == 401
            revoked = fresh(server, issued.json()["revocation_path"], method="POST", headers=key)
            assert revoked.status_code == 200, revoked.text

            expected = {
                OK: sent,
                ("agentkeys_verifications_total", (("result", "missing"),)): 1,
                ("agentkeys_verifications_total", (("result", "invalid"),)): 1,
                ("agentkeys_decisions_total", (("outcome", "issued"),)): 1,
                ("agentkeys_revocations_total", (("by", "self"),)): 1,
                (
                    "agentkeys_http_request_duration_seconds_count",
                    (
                        ("method", "GET"),
                        ("route", "/v1/agent-credentials/self"),
                        ("status", "2xx"),
                    ),
                ): sent,
                ("agentkeys_active_credentials", ()): 0,
            }
            # Several scrapes, on connections of their own: whichever worker answers, the same.
            for _ in range(6):
                samples = scrape(server)
                assert {name: samples.get(name) for name in expected} == expected

            # A worker killed: the supervisor replaces it; its counts stay, its live gauge goes.
            killed = max(by_worker)
            os.kill(killed, signal.SIGKILL)
            poll(
                lambda: not (directory / f"gauge_livemostrecent_{killed}.db").exists(),
                "the dead worker's live gauge was not dropped",
            )
            poll(lambda: len(worker_pids(directory) - {killed}) == 2, "no replacement worker")
            samples = scrape(server)
            assert samples[OK] == sent

        assert not list(temporary.glob("agentkeys-metrics-*")), "metrics directory left behind"
        (row,) = asyncio.run(
            served_database.probe().rows(
                "SELECT last_used_at FROM credentials WHERE id = :id",
                id=issued.json()["credential_id"],
            )
        )
        assert row["last_used_at"] is not None, "the shutdown did not write the last use"

"""A "Redis" that accepts connections and reads every byte but never answers: the server that is
stopped, or cut off behind a firewall that still completes handshakes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass
class SilentRedis:
    url: str = ""
    connections: int = 0
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)

    async def swallow(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        while await reader.read(4096):
            pass

    def hang_up(self) -> None:
        for writer in self._writers:
            writer.close()


@asynccontextmanager
async def silent_redis() -> AsyncIterator[SilentRedis]:
    """Listens on 127.0.0.1 at a free port; ``.connections`` counts the connections accepted."""
    silent = SilentRedis()
    server = await asyncio.start_server(silent.swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    silent.url = f"redis://127.0.0.1:{port}/0"
    try:
        yield silent
    finally:
        server.close()
        silent.hang_up()
        await server.wait_closed()

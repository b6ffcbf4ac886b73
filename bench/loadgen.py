"""The load generator: replays pre-built HTTP requests over loopback from its own process.

Why this and not wrk: the open-loop burst needs requests sent at scheduled times with latency
measured from the schedule (no coordinated omission), which plain wrk cannot do; one asyncio
process with raw sockets does both modes, costs ~0.2-0.3 ms of client CPU per request (reported),
and needs nothing beyond Python. Requests are built (signed, AES-encrypted) before the clock
starts, so the generator's own crypto is never measured. gunicorn's sync workers close every
connection, so each request opens a new one (as it would behind nginx).
"""

from __future__ import annotations

import asyncio
import resource
import time


def build_request(port: int, query: str, body: bytes) -> bytes:
    head = (f"POST /wechat?{query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: text/xml\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    return head.encode("ascii") + body


async def _one(port: int, request: bytes) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        data = await reader.read()  # until the server closes
    finally:
        writer.close()
    status = int(data[9:12]) if data.startswith(b"HTTP/1.") else 0
    return status, data.partition(b"\r\n\r\n")[2]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _closed(port, requests, connections, warmup, duration, keep_bodies):
    queue = iter(requests)
    latencies, statuses, bodies = [], [], []
    start = time.perf_counter()
    measure_from = start + warmup
    stop_at = measure_from + duration
    cpu = [None]

    async def worker():
        for request in queue:
            now = time.perf_counter()
            if now >= stop_at:
                return
            if now >= measure_from and cpu[0] is None:
                cpu[0] = (_cpu(), now)
            try:
                status, body = await _one(port, request)
            except OSError:
                status, body = -1, b""
            done = time.perf_counter()
            if now >= measure_from:
                latencies.append(done - now)
                statuses.append(status)
                if keep_bodies:
                    bodies.append(body)

    await asyncio.gather(*(worker() for _ in range(connections)))
    end = time.perf_counter()
    cpu0, t0 = cpu[0] or (_cpu(), end)
    return {"latencies": latencies, "statuses": statuses, "bodies": bodies, "seconds": end - t0,
            "client_cpu": _cpu() - cpu0}


async def _open(port, requests, seconds, keep_bodies):
    rate = len(requests) / seconds
    start = time.perf_counter() + 0.2
    cpu0 = _cpu()

    async def one(index, request):
        scheduled = start + index / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        try:
            status, body = await _one(port, request)
        except OSError:
            status, body = -1, b""
        return time.perf_counter() - scheduled, status, body  # from the schedule: no coordinated omission

    results = await asyncio.gather(*(one(i, r) for i, r in enumerate(requests)))
    return {"latencies": [r[0] for r in results], "statuses": [r[1] for r in results],
            "bodies": [r[2] for r in results] if keep_bodies else [], "seconds": time.perf_counter() - start,
            "client_cpu": _cpu() - cpu0}


def closed_loop(port: int, requests: list[bytes], connections: int = 16, warmup: float = 1.0,
                duration: float = 5.0, keep_bodies: bool = False) -> dict:
    """*connections* clients each send the next request as soon as the previous one is answered."""
    return asyncio.run(_closed(port, requests, connections, warmup, duration, keep_bodies))


def open_loop(port: int, requests: list[bytes], seconds: float, keep_bodies: bool = False) -> dict:
    """Send request i at start + i * seconds / len(requests), whatever the server does."""
    return asyncio.run(_open(port, requests, seconds, keep_bodies))

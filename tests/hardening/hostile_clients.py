"""Clients that behave as attackers do at our HTTP doors, on raw sockets (an HTTP library would not let them):
a huge chunked body, heads and bodies that trickle in a byte at a time. Every loop is bounded in count and time."""

from __future__ import annotations

import asyncio
import select
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

CHUNK = 64 * 1024


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname and parts.port, url
    return parts.hostname, parts.port


def status_of(response: bytes) -> int | None:
    """The status code of a raw HTTP/1.1 response, None if there is none."""
    line = response.split(b"\r\n", 1)[0].split()
    return int(line[1]) if len(line) > 1 and line[0].startswith(b"HTTP/") and line[1].isdigit() else None


@dataclass
class Flood:
    status: int | None
    sent: int  # body bytes the server let us send before it answered or hung up
    seconds: float


def chunked_flood(url: str, path: str, headers: dict[str, str], total: int, timeout: float = 60.0) -> Flood:
    """POST a chunked body of up to ``total`` bytes, stopping as soon as the server answers or hangs up."""
    start = time.monotonic()
    deadline = start + timeout
    head = [f"POST {path} HTTP/1.1", f"Host: {_address(url)[0]}", "Transfer-Encoding: chunked"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    chunk = f"{CHUNK:x}\r\n".encode() + b"x" * CHUNK + b"\r\n"
    sent = 0
    with socket.create_connection(_address(url), timeout=10) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        try:
            while sent < total and time.monotonic() < deadline:
                if select.select([sock], [], [], 0)[0]:
                    break  # an answer (or a hang-up) already
                sock.sendall(chunk)
                sent += CHUNK
        except OSError:
            pass  # the server hung up on us: what we want; its answer, if any, is read below
        response = b""
        try:
            while len(response) < 65536 and time.monotonic() < deadline:
                data = sock.recv(65536)
                if not data:
                    break
                response += data
        except OSError:
            pass
    return Flood(status_of(response), sent, time.monotonic() - start)


@dataclass
class Trickle:
    closed_after: float | None  # seconds until the server hung up; None: still open at the deadline
    answer: int | None  # the status the server answered with before hanging up, if any


async def trickle(url: str, prefix: bytes, *, interval: float, deadline: float) -> Trickle:
    """Connect, send ``prefix`` then one more byte every ``interval`` seconds, until the server hangs up."""
    host, port = _address(url)
    start = time.monotonic()
    reader, writer = await asyncio.open_connection(host, port)
    answer: int | None = None
    try:
        writer.write(prefix)
        await writer.drain()
        while time.monotonic() < deadline:
            try:
                data = await asyncio.wait_for(reader.read(4096), interval)
            except TimeoutError:
                try:
                    writer.write(b"a")
                    await writer.drain()
                except OSError:
                    return Trickle(time.monotonic() - start, answer)
                continue
            except OSError:
                return Trickle(time.monotonic() - start, answer)
            if not data:
                return Trickle(time.monotonic() - start, answer)
            answer = answer if answer is not None else status_of(data)
        return Trickle(None, answer)
    finally:
        writer.close()


async def slowloris(url: str, path: str, count: int, *, interval: float, within: float) -> list[Trickle]:
    """``count`` connections, half sending their head a byte at a time, half their body."""
    host = _address(url)[0]
    slow_head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nX-Slow: ".encode()
    slow_body = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 100000\r\n\r\n".encode()
    deadline = time.monotonic() + within
    return await asyncio.gather(
        *(
            trickle(url, slow_head if n % 2 == 0 else slow_body, interval=interval, deadline=deadline)
            for n in range(count)
        )
    )

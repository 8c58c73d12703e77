#!/usr/bin/env python3
"""Open many HTTP keep-alive connections, hold them all at once, and check each is still served.

The C10K check of Swiglet's TCP (and of any HTTP server): it opens --connections connections,
makes one verified GET on each (status 200, Content-Length bytes of body), holds every one of
them open and idle for --hold seconds, answers a GET on a fresh connection meanwhile, reads the
server's /metrics while all are held (when --metrics-port is given), and finally makes a second
verified GET on every held connection. Every failure is counted by kind; the result is one JSON
line on stdout (progress goes to stderr) and the exit status is 1 when anything failed.

    scripts/hold-connections.py --host 10.0.2.15 --connections 10000 --hold 5 --metrics-port 9090
"""

import argparse
import asyncio
import errno
import json
import resource
import sys
import time


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", required=True, help="the server's address")
    parser.add_argument("--port", type=int, default=80, help="its HTTP port (default 80)")
    parser.add_argument("--connections", type=int, default=10000, help="connections to hold at once (default 10000)")
    parser.add_argument("--path", default="/about.txt", help="what to GET (default /about.txt)")
    parser.add_argument("--hold", type=float, default=5.0, help="seconds to hold them all idle (default 5)")
    parser.add_argument("--concurrency", type=int, default=200, help="connections opening at once (default 200)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds for one connect or answer (default 30)")
    parser.add_argument("--metrics-port", type=int, default=None, help="read /metrics here while holding (optional)")
    arguments = parser.parse_args()
    for name in ("connections", "concurrency", "port"):
        if getattr(arguments, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if arguments.hold < 0 or arguments.timeout <= 0:
        parser.error("--hold must be ≥ 0 and --timeout > 0")
    return arguments


class Failure(Exception):
    """One request that did not get a correct answer, with its kind."""

    def __init__(self, kind):
        super().__init__(kind)
        self.kind = kind


async def get(reader, writer, host, path, timeout):
    """One GET on an open connection; returns the body length after checking status and length."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    try:
        await asyncio.wait_for(writer.drain(), timeout)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    except asyncio.TimeoutError:
        raise Failure("timeout")
    except (asyncio.IncompleteReadError, ConnectionError):
        raise Failure("closed")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) < 2 or parts[1] != "200":
        raise Failure("status")
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if length is None:
        raise Failure("no-length")
    try:
        body = await asyncio.wait_for(reader.readexactly(length), timeout)
    except asyncio.TimeoutError:
        raise Failure("timeout")
    except (asyncio.IncompleteReadError, ConnectionError):
        raise Failure("closed")
    return len(body)


async def read_metrics(host, port, timeout):
    """The Prometheus text of host:port/metrics (one connection, closed after)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    writer.write(f"GET /metrics HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    data = await asyncio.wait_for(reader.read(), timeout)
    writer.close()
    return data.decode("latin-1").split("\r\n\r\n", 1)[-1]


async def main(arguments):
    errors = {}
    held = []
    semaphore = asyncio.Semaphore(arguments.concurrency)
    started = time.monotonic()

    def count(kind):
        errors[kind] = errors.get(kind, 0) + 1

    async def open_one():
        async with semaphore:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(arguments.host, arguments.port), arguments.timeout)
            except asyncio.TimeoutError:
                count("connect-timeout")
                return
            except OSError as error:
                count("connect-" + errno.errorcode.get(error.errno, "error").lower())
                return
            try:
                await get(reader, writer, arguments.host, arguments.path, arguments.timeout)
                held.append((reader, writer))
            except Failure as failure:
                count("first-" + failure.kind)
                writer.close()
            if len(held) % 1000 == 0 and held:
                print(f"hold-connections: {len(held)} open and served", file=sys.stderr, flush=True)

    # First one connection, retried until the server answers: a guest that has just booted may
    # not have answered ARP yet, and the flood would otherwise fail on the neighbour entry.
    deadline = time.monotonic() + arguments.timeout
    while True:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(arguments.host, arguments.port), 5)
            writer.close()
            break
        except (OSError, asyncio.TimeoutError):
            if time.monotonic() > deadline:
                print(json.dumps({"connections": arguments.connections, "held": 0, "errors": {"unreachable": 1}}))
                return 1
            await asyncio.sleep(0.5)
    started = time.monotonic()
    await asyncio.gather(*(open_one() for _ in range(arguments.connections)))
    opened_seconds = time.monotonic() - started
    print(f"hold-connections: {len(held)} held after {opened_seconds:.1f} s; holding {arguments.hold} s",
          file=sys.stderr, flush=True)

    # While all are held: a fresh connection is answered, and the server's counters say what it holds.
    await asyncio.sleep(arguments.hold / 2)
    fresh_ok = False
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(arguments.host, arguments.port), arguments.timeout)
        await get(reader, writer, arguments.host, arguments.path, arguments.timeout)
        fresh_ok = True
        writer.close()
    except (Failure, OSError, asyncio.TimeoutError):
        count("fresh")
    metrics = None
    if arguments.metrics_port:
        try:
            metrics = await read_metrics(arguments.host, arguments.metrics_port, arguments.timeout)
        except (OSError, asyncio.TimeoutError):
            count("metrics")
    await asyncio.sleep(arguments.hold / 2)

    # Every held connection is still open and served.
    second_ok = 0

    async def again(reader, writer):
        nonlocal second_ok
        async with semaphore:
            try:
                await get(reader, writer, arguments.host, arguments.path, arguments.timeout)
                second_ok += 1
            except Failure as failure:
                count("second-" + failure.kind)

    second_started = time.monotonic()
    await asyncio.gather(*(again(reader, writer) for reader, writer in held))
    second_seconds = time.monotonic() - second_started
    for _, writer in held:
        writer.close()
    result = {
        "connections": arguments.connections, "held": len(held), "served_again": second_ok,
        "fresh_answered": fresh_ok, "open_seconds": round(opened_seconds, 2), "second_seconds": round(second_seconds, 2),
        "total_seconds": round(time.monotonic() - started, 2), "errors": errors,
    }
    if metrics is not None:
        wanted = ("swiglet_tcp_connections{state=\"ESTABLISHED\"}", "swiglet_tcp_buffer_bytes{state=\"used\"}",
                  "swiglet_tcp_buffer_bytes{state=\"peak\"}", "swiglet_tcp_capacity{kind=\"slots\"}",
                  "swiglet_tcp_events_total{event=\"buffer_refused\"}")
        result["metrics"] = {line.split(" ")[0]: float(line.split(" ")[1])
                             for line in metrics.splitlines() if line.startswith(wanted)}
    print(json.dumps(result), flush=True)
    return 0 if not errors and second_ok == arguments.connections else 1


if __name__ == "__main__":
    arguments = parse_arguments()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = arguments.connections + 100
    if soft < needed:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (max(needed, soft), max(needed, hard)))
        except (ValueError, OSError):
            sys.exit(f"hold-connections: cannot raise the open-file limit to {needed} (run as root or raise ulimit -n)")
    sys.exit(asyncio.run(main(arguments)))

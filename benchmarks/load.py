"""Concurrent clients that send pre-built bodies over keep-alive HTTP connections.

Each client is a thread with its own connection and its own bodies, sent in order (so its
samples stay in time order); the clock runs from a common start until the last client is done
or the deadline passes. Only answers the caller's `accepted` check passes are counted.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

Accepted = Callable[[int, bytes], bool]


@dataclass
class LoadResult:
    accepted: int = 0
    elapsed_s: float = 0.0
    latencies_s: list[float] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)

    def refusals(self) -> str:
        return ", ".join(f"{count} x {kind}" for kind, count in sorted(self.refused.items()))


def send_all(
    *,
    host: str,
    port: int,
    path: str,
    headers: dict[str, str],
    bodies_per_client: Sequence[Sequence[bytes]],
    accepted: Accepted,
    seconds: float,
) -> LoadResult:
    result = LoadResult()
    lock = threading.Lock()
    start = threading.Barrier(len(bodies_per_client) + 1)
    deadline = [0.0]

    def client(bodies: Sequence[bytes]) -> None:
        connection = http.client.HTTPConnection(host, port, timeout=60)
        latencies: list[float] = []
        ok = 0
        refused: Counter[str] = Counter()
        start.wait()
        for body in bodies:
            if time.monotonic() >= deadline[0]:
                break
            began = time.perf_counter()
            try:
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                answer = response.read()
            except (OSError, http.client.HTTPException) as exc:
                refused[type(exc).__name__] += 1
                connection.close()
                continue
            latencies.append(time.perf_counter() - began)
            if accepted(response.status, answer):
                ok += 1
            else:
                refused[f"HTTP {response.status} {answer[:80]!r}"] += 1
        connection.close()
        with lock:
            result.accepted += ok
            result.latencies_s.extend(latencies)
            result.refused.update(refused)

    threads = [
        threading.Thread(target=client, args=(bodies,), daemon=True) for bodies in bodies_per_client
    ]
    for thread in threads:
        thread.start()
    deadline[0] = time.monotonic() + seconds
    began = time.perf_counter()
    start.wait()
    for thread in threads:
        thread.join()
    result.elapsed_s = time.perf_counter() - began
    return result

"""asyncssh peer for `deno task bench fanout` (run with /usr/bin/python3).

Reads a JSON job on stdin:
  {"hosts": [{"address": "127.x.y.z", "port": 22}, ...], "user": "...",
   "key": "/path/to/private_key", "known_hosts": "/path", "parallel": 64,
   "command": "uptime", "warm_rounds": 3}
Cold: connect + run on every host (at most `parallel` at once, KEX pinned to
curve25519-sha256, compression off, strict host keys). Warm: run again on the
open connections, `warm_rounds` times. Prints one JSON line:
  {"cold": ms, "warm": [ms, ...], "maxrss_kib": peak RSS, "version": "..."}
Any host failing makes the script exit non-zero (a peer number must be real).
"""

import asyncio
import json
import resource
import sys
import time

import asyncssh


async def main() -> None:
    cfg = json.load(sys.stdin)
    sem = asyncio.Semaphore(cfg["parallel"])
    cmd = cfg.get("command", "uptime")

    async def connect_run(h):
        async with sem:
            c = await asyncssh.connect(
                h["address"], port=h["port"], username=cfg["user"],
                client_keys=[cfg["key"]], known_hosts=cfg["known_hosts"],
                kex_algs=["curve25519-sha256"], compression_algs=None,
                agent_path=None)
            await c.run(cmd, check=True)
            return c

    async def run(c):
        async with sem:
            await c.run(cmd, check=True)

    t0 = time.perf_counter()
    conns = await asyncio.gather(*(connect_run(h) for h in cfg["hosts"]))
    cold = (time.perf_counter() - t0) * 1000
    warm = []
    for _ in range(cfg.get("warm_rounds", 1)):
        t1 = time.perf_counter()
        await asyncio.gather(*(run(c) for c in conns))
        warm.append((time.perf_counter() - t1) * 1000)
    for c in conns:
        c.close()
    await asyncio.gather(*(c.wait_closed() for c in conns), return_exceptions=True)
    print(json.dumps({
        "cold": cold,
        "warm": warm,
        "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "version": asyncssh.__version__,
    }))


asyncio.run(main())

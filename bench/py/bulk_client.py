# The aiohttp client of the bulk benchmark (Debian's python3-aiohttp, under /usr/bin/python3):
# `concurrency` callers read `url` with `await resp.read()` (`resp.json()` for a .json URL) for `ms` milliseconds after a warm-up,
# then one JSON line with the same fields as bulk-client.ts prints.
#   /usr/bin/python3 bench/py/bulk_client.py <url> <concurrency> <ms>
import asyncio
import json
import resource
import sys
import time

import aiohttp


async def main(url: str, concurrency: int, ms: int) -> None:
    # A JSON scenario: every client parses the body.
    parses_json = url.endswith(".json")
    connector = aiohttp.TCPConnector(limit=concurrency, keepalive_timeout=60)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=True) as session:

        async def run(duration: float) -> tuple[int, int]:
            requests = 0
            size = 0
            end = time.perf_counter() + duration

            async def worker() -> None:
                nonlocal requests, size
                while time.perf_counter() < end:
                    async with session.get(url) as resp:
                        if parses_json:
                            await resp.json()
                            size += resp.content.total_bytes
                        else:
                            size += len(await resp.read())
                    requests += 1

            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return requests, size

        start_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        async with session.get(url) as resp:
            await resp.read()
        first_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - start_rss
        await run(min(0.5, ms / 4000))
        before = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        requests, size = await run(ms / 1000)
        seconds = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(
        json.dumps(
            {
                "requests": requests,
                "bytes": size,
                "seconds": seconds,
                "cpuSeconds": cpu,
                "maxRssMiB": after.ru_maxrss / 1024,
                "startRssMiB": start_rss,
                "firstGrowthMiB": first_growth,
            }
        )
    )


asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))

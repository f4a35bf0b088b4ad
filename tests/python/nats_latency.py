"""Receives new messages of a JetStream stream with nats-py (an ordered
push consumer) and prints, per message, the event's `timestamp` (when its
collection batch ended) and the receive time, for batch-to-consumer
latency.

Usage: nats_latency.py <nats-url> <stream> <subject-filter> <count>.
Prints `ready` once subscribed, then one JSON line per message; exits
after `count` messages or 60 s.
"""
import asyncio
import json
import sys
import time

import nats


async def main():
    url, stream, subject, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    nc = await nats.connect(url)
    js = nc.jetstream()
    done = asyncio.Event()
    got = 0

    async def on_msg(m):
        nonlocal got
        recv_ms = time.time() * 1000
        ev = json.loads(m.data)
        print(json.dumps({"timestamp": ev["timestamp"], "recv_ms": recv_ms}), flush=True)
        got += 1
        if got >= count:
            done.set()

    await js.subscribe(subject, stream=stream, ordered_consumer=True,
                       deliver_policy=nats.js.api.DeliverPolicy.NEW, cb=on_msg)
    print("ready", flush=True)
    try:
        await asyncio.wait_for(done.wait(), timeout=60)
    finally:
        await nc.close()


asyncio.run(main())

"""Receives new messages of a JetStream stream with nats-py (an ephemeral
push consumer) and prints, per message, the event's `timestamp` (when its
collection batch ended) and the receive time, for batch-to-consumer
latency.

Usage: nats_latency.py <nats-url> <stream> <subject-filter> <count>.
Prints `ready` once subscribed; after `count` messages or 15 s, one JSON
line per message. Nothing is printed while receiving: a reader that only
drains the pipe later would otherwise block the callback once the pipe
is full and delay every receive time behind it (the 2.7 s seen before).
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
    got = []

    async def on_msg(m):
        recv_ms = time.time() * 1000
        got.append((recv_ms, m))
        if len(got) >= count:
            done.set()

    # From the message after the newest stored now, so none is missed.
    info = await js.stream_info(stream)
    cfg = nats.js.api.ConsumerConfig(
        deliver_policy=nats.js.api.DeliverPolicy.BY_START_SEQUENCE,
        opt_start_seq=info.state.last_seq + 1,
        ack_policy=nats.js.api.AckPolicy.NONE,
    )
    await js.subscribe(subject, stream=stream, config=cfg, cb=on_msg, manual_ack=True,
                       pending_msgs_limit=-1, pending_bytes_limit=-1)
    print("ready", flush=True)
    try:
        await asyncio.wait_for(done.wait(), timeout=15)
    except asyncio.TimeoutError:
        pass
    await nc.close()
    for recv_ms, m in got:
        ev = json.loads(m.data)
        stored_ms = m.metadata.timestamp.timestamp() * 1000
        print(json.dumps({"timestamp": ev["timestamp"], "recv_ms": recv_ms,
                          "stored_ms": stored_ms}))


asyncio.run(main())

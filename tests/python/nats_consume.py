"""Reads every message of a JetStream stream with nats-py, as a downstream
consumer would: an ephemeral pull consumer from the first message.

Usage: nats_consume.py <nats-url> <stream> <subject-filter> <expected>.
Prints one JSON line per message (subject, Nats-Msg-Id, stream sequence,
data) and exits once `expected` messages came and no more arrive within
two seconds, or after 60 s.
"""
import asyncio
import json
import sys
import time

import nats
from nats.errors import TimeoutError as NatsTimeout


async def main():
    url, stream, subject, expected = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    nc = await nats.connect(url)
    js = nc.jetstream()
    sub = await js.pull_subscribe(subject, durable=None, stream=stream)
    got = 0
    deadline = time.monotonic() + 60
    quiet = 0
    while time.monotonic() < deadline:
        try:
            msgs = await sub.fetch(batch=500, timeout=1)
        except (NatsTimeout, asyncio.TimeoutError):
            # nats-py raises either, depending on where the wait ran out.
            quiet += 1
            if got >= expected and quiet >= 2:
                break
            continue
        quiet = 0
        for m in msgs:
            got += 1
            print(json.dumps({
                "subject": m.subject,
                "msg_id": (m.headers or {}).get("Nats-Msg-Id"),
                "stream_seq": m.metadata.sequence.stream,
                "data": json.loads(m.data),
            }), flush=True)
            await m.ack()
    await nc.close()


asyncio.run(main())

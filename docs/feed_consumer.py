#!/usr/bin/env python3
"""Prints morgue's feed from the start, one line per event, then exits.

    pip install nats-py cryptography
    python3 docs/feed_consumer.py [nats://127.0.0.1:4222] [MORGUE]

Each line is `<position> <type> <stream> <headline or name, when the event has one>`.
Payloads travel sealed: each is opened with its stream's key from the `<stream>_KEYS`
bucket. An erased stream's key is gone, and its events print with `(erased)`.
"""
import asyncio
import base64
import json
import sys

import nats
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import KeyNotFoundError, NotFoundError


async def payload_of(line: dict, keys) -> dict | None:
    """The event's payload: in the clear, or opened with its stream's key (None if erased)."""
    if not line.get("sealed"):
        return line["payload"]
    try:
        key = (await keys.get(line["stream"])).value
    except KeyNotFoundError:
        return None
    if not key:
        return None
    # ChaCha20-Poly1305: the first 12 bytes are the nonce; the associated data is the position
    # (8 bytes, big-endian) followed by the stream id.
    sealed = base64.b64decode(line["ciphertext"])
    aad = line["position"].to_bytes(8, "big") + line["stream"].encode()
    return json.loads(ChaCha20Poly1305(key).decrypt(sealed[:12], sealed[12:], aad))


async def main(url: str, stream: str) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    # Stop at the last event the stream holds now: sequence = position, gapless from 1.
    try:
        last = (await js.stream_info(stream)).state.last_seq
    except NotFoundError:
        sys.exit(f"no stream {stream} at {url}: is the writer publishing?")
    # An ephemeral consumer that starts at position 1. A service that keeps its place
    # across restarts passes durable="its-name" instead (see docs/feed.md).
    sub = await js.pull_subscribe(
        "morgue.>",
        stream=stream,
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.EXPLICIT),
    )
    keys = await js.key_value(f"{stream}_KEYS")
    done = 0  # the last position handled
    while done < last:
        for msg in await sub.fetch(batch=min(500, last - done), timeout=10):
            line = json.loads(msg.data)
            position = line["position"]
            if position > done:  # a redelivery of a handled position is skipped
                payload = await payload_of(line, keys)
                # ArticleDrafted schema_version 1 called the headline `title`.
                if payload is None:
                    title = "(erased)"
                else:
                    title = payload.get("headline") or payload.get("title") or payload.get("name") or ""
                print(f"{position} {line['type']} {line['stream']} {title}".rstrip())
                done = position
            await msg.ack()
    await sub.unsubscribe()
    await nc.close()


if __name__ == "__main__":
    url = sys.argv[1] if len(sys.argv) > 1 else "nats://127.0.0.1:4222"
    stream = sys.argv[2] if len(sys.argv) > 2 else "MORGUE"
    asyncio.run(main(url, stream))

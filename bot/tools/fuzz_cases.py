"""Seeded malformed inputs for every endpoint: valid frames and messages, randomly mutated.

Each generator starts from what the real peer sends (Asterisk's AGI environment and
AudioSocket frames, Twilio / mod_audio_fork / browser WebSocket messages, a Telphin Call
Interactive request, any HTTP request) and applies one to three mutations: bit flips,
inserted, deleted, duplicated or truncated bytes, "nasty" tokens (newlines, NUL, ``%0a``,
huge numbers, long strings, deep nesting, the demo caller's number), JSON fields removed,
retyped or renamed, messages dropped, repeated, reordered, switched between text and
binary, or made larger than the size limit. The same seed gives the same cases.
"""

from __future__ import annotations

import base64
import json
import random
import urllib.parse
import uuid
from dataclasses import dataclass, field
from typing import Any

NASTY: tuple[bytes, ...] = (
    b"\n",
    b"\r\n",
    b"\x00",
    b"\xff\xfe",
    b"%0a",
    b"%0d%0a2026-01-01 00:00:00,000 ERROR x: forged",
    b'"',
    b"\\",
    b"-1",
    b"0",
    b"99999999999999999999999",
    b"1e309",
    b"NaN",
    b"\xe2\x80\xa8",  # U+2028
    b"A" * 5000,
    b"[" * 3000,
    b"{" * 3000,
    b"79607775577",
    b"../../../etc/passwd",
    b"\x1b[2J",
)
JSON_VALUES: tuple[Any, ...] = (None, True, 0, -1, 2**70, 1e308, "", "x" * 3000, [], {}, [1, 2])


class Mutator(random.Random):
    """Random mutations of bytes, JSON objects and message lists."""

    def nasty(self) -> bytes:
        return self.choice(NASTY)

    def bytes(self, data: bytes, rounds: int | None = None) -> bytes:
        out = bytearray(data)
        for _ in range(rounds or self.randint(1, 3)):
            op = self.randrange(7)
            at = self.randrange(len(out) + 1)
            if op == 0 and out:  # flip bits
                for _ in range(self.randint(1, 8)):
                    i = self.randrange(len(out))
                    out[i] ^= 1 << self.randrange(8)
            elif op == 1:
                out[at:at] = self.nasty()
            elif op == 2 and out:
                del out[at : at + self.randint(1, 64)]
            elif op == 3:
                del out[at:]
            elif op == 4 and out:
                out[at:at] = out[at : at + self.randint(1, 200)] * self.randint(1, 20)
            elif op == 5:
                out[at:at] = self.randbytes(self.randint(1, 64))
            else:
                out[at : at + self.randint(0, 20)] = self.nasty()
        return bytes(out)

    def json(self, obj: dict[str, Any]) -> str:
        """A mutated JSON text of ``obj`` (structure or bytes)."""
        obj = json.loads(json.dumps(obj))
        if self.random() < 0.3:
            return self.bytes(json.dumps(obj).encode()).decode("utf-8", "replace")
        target, key = self._pick(obj)
        op = self.randrange(5)
        if op == 0 and key is not None:
            del target[key]
        elif op == 1 and key is not None:
            target[key] = self.choice(JSON_VALUES)
        elif op == 2 and key is not None:
            target[key + self.choice(["_", "X", " "])] = target.pop(key)
        elif op == 3:
            target[self.choice(["event", "type", "start", "x", "media"])] = self.choice(JSON_VALUES)
        else:  # a depth bomb where a value was
            text = json.dumps(obj)
            depth = self.choice([50, 900, 20000])
            return text.replace("{", '{"deep": ' + "[" * depth + "]" * depth + ", ", 1)
        return json.dumps(obj, ensure_ascii=self.random() < 0.5)

    def _pick(self, obj: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        node = obj
        while True:
            keys = list(node)
            if not keys:
                return node, None
            key = self.choice(keys)
            if isinstance(node[key], dict) and self.random() < 0.6:
                node = node[key]
                continue
            return node, key


Message = str | bytes  # a WebSocket text or binary frame


@dataclass
class WsCase:
    kind: str  # twilio | audio_fork | browser
    messages: list[Message] = field(default_factory=list)


def _twilio(rng: Mutator) -> list[Message]:
    sid = "MZ" + uuid.UUID(int=rng.getrandbits(128)).hex
    media = base64.b64encode(bytes(160)).decode()
    start = {
        "event": "start",
        "sequenceNumber": "1",
        "start": {
            "streamSid": sid,
            "accountSid": "AC1",
            "callSid": "CA" + sid[2:],
            "tracks": ["inbound"],
            "customParameters": {"caller": "+79001234567", "called": "78123098635"},
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        },
        "streamSid": sid,
    }
    messages: list[dict[str, Any]] = [
        {"event": "connected", "protocol": "Call", "version": "1.0.0"},
        start,
        *(
            {"event": "media", "streamSid": sid, "media": {"track": "inbound", "payload": media}}
            for _ in range(3)
        ),
        {"event": "dtmf", "streamSid": sid, "dtmf": {"track": "inbound_track", "digit": "1"}},
        {"event": "mark", "streamSid": sid, "mark": {"name": "x"}},
        {"event": "stop", "streamSid": sid, "stop": {"accountSid": "AC1", "callSid": "CA1"}},
    ]
    return [json.dumps(m) for m in messages]


def _audio_fork(rng: Mutator) -> list[Message]:
    meta: dict[str, Any] = {"callid": str(uuid.UUID(int=rng.getrandbits(128)))}
    meta["from"] = "+79001234567"
    meta.update({"to": "78123098635", "sampleRate": 8000})
    return [
        json.dumps(meta),
        *(bytes(320) for _ in range(3)),
        json.dumps({"type": "dtmf", "digit": "5"}),
        json.dumps({"type": "stop"}),
    ]


def _browser(rng: Mutator) -> list[Message]:
    start = {"type": "start", "rate": 16000, "caller": "+79001234567", "called": "5555"}
    return [
        json.dumps(start),
        *(bytes(640) for _ in range(3)),
        json.dumps({"type": "dtmf", "digit": "#"}),
        json.dumps({"type": "stop"}),
    ]


WS_VALID = {"twilio": _twilio, "audio_fork": _audio_fork, "browser": _browser}


def ws_cases(kind: str, count: int, seed: int) -> list[WsCase]:
    rng = Mutator(f"{seed}:{kind}")
    cases = []
    for _ in range(count):
        messages = WS_VALID[kind](rng)
        op = rng.randrange(8)
        # the first messages (start, metadata) are hit most: they decide whether a call starts
        i = min(rng.randrange(len(messages)), rng.randrange(len(messages)))
        if op <= 3:
            message = messages[i]
            if isinstance(message, bytes):
                messages[i] = rng.bytes(message)
            elif op <= 1:
                messages[i] = rng.json(json.loads(message))
            else:
                messages[i] = rng.bytes(message.encode()).decode("utf-8", "replace")
        elif op == 4:
            del messages[i]
        elif op == 5:
            messages.insert(i, messages[rng.randrange(len(messages))])
        elif op == 6:
            message = messages[i]  # text as binary, binary as text
            swapped = message.encode() if isinstance(message, str) else message.decode("latin-1")
            messages[i] = swapped
        else:
            big: list[Message] = [b"x" * 70000, "y" * 70000, rng.randbytes(33)]
            messages.insert(i, rng.choice(big))
        cases.append(WsCase(kind, messages))
    return cases


def agi_env_block(rng: Mutator) -> bytes:
    env = {
        "agi_network": "yes",
        "agi_network_script": "order",
        "agi_request": "agi://127.0.0.1/order",
        "agi_channel": f"PJSIP/fuzz-{rng.getrandbits(32):08x}",
        "agi_uniqueid": f"{rng.getrandbits(30)}.{rng.randrange(100)}",
        "agi_callerid": "+79001234567",
        "agi_calleridname": "unknown",
        "agi_dnid": "78123098635",
        "agi_context": "ivr",
        "agi_extension": "2",
    }
    return "".join(f"{k}: {v}\n" for k, v in env.items()).encode() + b"\n"


AGI_REPLIES = (b"200 result=0\n", b"200 result=-1\n", b"HANGUP\n200 result=0\n", b"511 x\n")


@dataclass
class AgiCase:
    env: bytes
    replies: list[bytes]  # answers to the bot's EXEC and SET VARIABLE lines, in order


def agi_cases(count: int, seed: int) -> list[AgiCase]:
    rng = Mutator(f"{seed}:fastagi")
    cases = []
    for _ in range(count):
        env = agi_env_block(rng)
        replies = [rng.choice(AGI_REPLIES) for _ in range(5)]
        if rng.random() < 0.7:
            env = rng.bytes(env)
        else:
            i = rng.randrange(len(replies))
            replies[i] = rng.bytes(replies[i])
        cases.append(AgiCase(env, replies))
    return cases


@dataclass
class AudioSocketCase:
    stream: bytes  # everything after the UUID frame (or the whole stream if it is mutated)
    mutate_uuid: bool


def audiosocket_cases(count: int, seed: int) -> list[AudioSocketCase]:
    rng = Mutator(f"{seed}:audiosocket")

    def frame(kind: int, payload: bytes) -> bytes:
        return bytes((kind,)) + len(payload).to_bytes(2, "big") + payload

    cases = []
    for _ in range(count):
        frames = [frame(0x10, bytes(320)) for _ in range(3)] + [frame(0x03, b"1")]
        frames.append(frame(0x00, b""))
        stream = b"".join(frames)
        cases.append(AudioSocketCase(rng.bytes(stream), mutate_uuid=rng.random() < 0.1))
    return cases


@dataclass
class HttpCase:
    data: bytes


def telphin_cases(count: int, seed: int, secret: str) -> list[HttpCase]:
    rng = Mutator(f"{seed}:telphin")
    cases = []
    for _ in range(count):
        params = {
            "EventType": "call_interactive",
            "CallID": f"c-{rng.getrandbits(32)}",
            "CallerIDNum": "+79001234567",
            "CallerIDName": "Иван Петров",
            "CalledDID": "78123098635",
            "CalledExtension": "3515*099@sipproxy.telphin.ru",
        }
        style = rng.randrange(4)
        if style == 0:
            query = urllib.parse.urlencode(params).encode()
            head = b"GET /telphin/" + secret.encode() + b"?" + rng.bytes(query) + b" HTTP/1.1\r\n"
            cases.append(HttpCase(head + b"Host: bot\r\nConnection: close\r\n\r\n"))
            continue
        if style == 1:
            body, kind = rng.bytes(urllib.parse.urlencode(params).encode()), "x-www-form-urlencoded"
        elif style == 2:
            body, kind = rng.json(params).encode("utf-8", "replace"), "json"
        else:
            parts = "".join(
                f'--b\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                for k, v in params.items()
            )
            body, kind = rng.bytes(f"{parts}--b--\r\n".encode()), "form-data; boundary=b"
        head = (
            f"POST /telphin/{secret} HTTP/1.1\r\nHost: bot\r\nConnection: close\r\n"
            f"Content-Type: {'multipart' if 'form-data' in kind else 'application'}/{kind}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        cases.append(HttpCase(head + body))
    return cases


def http_cases(count: int, seed: int, secret: str) -> list[HttpCase]:
    """Any path, any method: mutations of the request head (the HTTP parser, the router,
    the edge), WebSocket upgrade requests included."""
    rng = Mutator(f"{seed}:http")
    paths = [
        "/healthz",
        "/talk",
        f"/ws/twilio/{secret}",
        "/ws/browser",
        f"/metrics/{secret}",
        "/tts/" + "0" * 32 + ".wav",
        "/static/talk.js",
        f"/telphin/{secret}?CallID=1&CallerIDNum=79001234567",
    ]
    cases = []
    for _ in range(count):
        path = rng.choice(paths)
        head = f"GET {path} HTTP/1.1\r\nHost: bot\r\nUser-Agent: fuzz\r\n"
        if path.startswith("/ws/"):
            key = base64.b64encode(rng.randbytes(16)).decode()
            head += (
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            )
        else:
            head += "Connection: close\r\n"
        cases.append(HttpCase(rng.bytes((head + "\r\n").encode())))
    return cases

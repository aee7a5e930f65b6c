#!/usr/bin/python3
"""test_ws.py: black-box tests of GET /v1/ws (RFC 6455) against the real
zentalk-node, with the Debian `websockets` library as the client and raw
sockets for what a well-behaved library will not send (unmasked frames,
RSV bits, invalid UTF-8, bad close codes).

Usage: test_ws.py ZENTALK_NODE. Nodes are started and skips reported by
harness.py (the same contract as harness.c): exits 77 (ctest: skipped) when
the websockets library is missing or a part could not run."""
import asyncio
import base64
import json
import os
import signal
import socket
import struct
import sys
import time

import harness

try:
    import websockets
except ImportError:
    harness.skip_all("/usr/bin/python3 has no 'websockets' (apt-get install python3-websockets)")

FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what)
    else:
        print("ok:", what)


def start_node(env_extra=None):
    n = harness.Node(env_extra)
    return n.proc, n.port, n


def stop_node(p, n):
    n.stop()


# ---- raw client ---------------------------------------------------------

def raw_connect(port, extra_headers=""):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n" % (key, extra_headers)).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        c = s.recv(4096)
        if not c:
            break
        buf += c
    head, _, rest = buf.partition(b"\r\n\r\n")
    return s, head.decode(errors="replace"), rest, key


def frame(op, payload, fin=True, mask=True, rsv=0):
    b0 = (0x80 if fin else 0) | (rsv << 4) | op
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        h = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        h = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        h = struct.pack("!BBQ", b0, mbit | 127, n)
    if mask:
        m = os.urandom(4)
        payload = bytes(c ^ m[i % 4] for i, c in enumerate(payload))
        h += m
    return h + payload


class Reader:
    def __init__(self, s, rest=b""):
        self.s, self.buf = s, rest

    def _need(self, n):
        while len(self.buf) < n:
            c = self.s.recv(65536)
            if not c:
                raise EOFError
            self.buf += c

    def next(self):
        """(opcode, payload) of the next server frame, or None at EOF."""
        try:
            self._need(2)
            b0, b1 = self.buf[0], self.buf[1]
            n, pos = b1 & 0x7F, 2
            if n == 126:
                self._need(4)
                n, pos = struct.unpack("!H", self.buf[2:4])[0], 4
            elif n == 127:
                self._need(10)
                n, pos = struct.unpack("!Q", self.buf[2:10])[0], 10
            assert not (b1 & 0x80), "server frames must not be masked"
            self._need(pos + n)
            p = self.buf[pos:pos + n]
            self.buf = self.buf[pos + n:]
            return b0 & 0x0F, p
        except (EOFError, socket.timeout, ConnectionResetError):
            return None

    def until(self, op):
        while True:
            f = self.next()
            if f is None or f[0] == op:
                return f


def close_code_after(port, data):
    """Send data after the handshake and return the server's close code."""
    s, head, rest, _ = raw_connect(port)
    r = Reader(s, rest)
    r.next()  # hello
    s.sendall(data)
    f = r.until(8)
    s.close()
    if f is None or len(f[1]) < 2:
        return None
    return struct.unpack("!H", f[1][:2])[0]


# ---- tests --------------------------------------------------------------

def test_handshake(port):
    s, head, rest, key = raw_connect(port)
    import hashlib
    want = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
    check(head.startswith("HTTP/1.1 101"), "handshake answers 101")
    check(("Sec-WebSocket-Accept: " + want) in head, "Sec-WebSocket-Accept is SHA-1/base64 of the key")
    check("upgrade" in head.lower() and "websocket" in head.lower(), "Upgrade and Connection headers")
    s.close()
    # not an upgrade, wrong version, bad key, wrong method
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /v1/ws HTTP/1.1\r\nHost: x\r\n\r\n")
    check(b" 426 " in s.recv(4096), "plain GET on /v1/ws is 426")
    s.close()
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"
              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n")
    got = s.recv(4096)
    check(b" 426 " in got and b"Sec-WebSocket-Version: 13" in got, "version 8 is 426 with Sec-WebSocket-Version: 13")
    s.close()
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n")
    check(b" 400 " in s.recv(4096), "a malformed key is 400")
    s.close()
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"POST /v1/ws HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    check(b" 405 " in s.recv(4096), "POST on /v1/ws is 405")
    s.close()


async def test_messages(port):
    async with websockets.connect("ws://127.0.0.1:%d/v1/ws" % port) as ws:
        hello = json.loads(await ws.recv())
        check(hello["type"] == "hello" and "basic" in hello["annotators"], "hello lists the annotators")
        await ws.send(json.dumps({"type": "message", "conversation": "c1", "id": "m1", "from": "alice",
                                  "text": "The house is big.\nSí", "lang": "en", "translate_to": "es"}))
        a = json.loads(await ws.recv())
        check(a["type"] == "annotations" and a["id"] == "m1" and a["conversation"] == "c1", "annotations event")
        an = a["annotations"]
        check(an["bytes"] == 21 and an["chars"] == 20 and an["lines"] == 2, "byte/char/line counts")
        check("received_at" in an, "timestamp")
        tr = an.get("translation", {})
        if os.path.exists("/usr/share/apertium/modes/eng-spa.mode"):
            check("casa" in tr.get("text", ""), "translation to Spanish (house -> casa)")
        else:
            harness.skip_part("translation check (apertium-eng-spa not installed)")
        await ws.send(json.dumps({"type": "message", "conversation": "c1", "id": "m2", "text": "hi",
                                  "lang": "en", "translate_to": "xx"}))
        a = json.loads(await ws.recv())
        check(a["annotations"]["translation"]["error"]["code"] == "invalid_language", "bad translate_to is an error field")
        # malformed events: error events, connection stays open
        for bad, code in (("not json", "invalid_json"), ("[1,2]", "invalid_event"), ('{"type":"x"}', "unknown_type"),
                          ('{"type":"message","id":"m3","conversation":"c"}', "invalid_event"),
                          ('{"type":"message","conversation":"c","text":"t"}', "invalid_event")):
            await ws.send(bad)
            e = json.loads(await ws.recv())
            check(e["type"] == "error" and e["error"]["code"] == code, "malformed event %r -> %s" % (bad, code))
        # the features wired into the live annotations (when their assets are installed)
        assets = os.environ.get("ZENTALK_ASSETS_DIR", "data/assets")
        have = lambda n: os.path.exists(os.path.join(assets, n))
        await ws.send(json.dumps({"type": "message", "conversation": "c3", "id": "w1", "from": "alice",
                                  "text": "WIN a FREE iPhone now!!! Click http://bit.ly/xyz to claim your prize"}))
        await ws.send(json.dumps({"type": "message", "conversation": "c3", "id": "w2", "from": "bob",
                                  "text": "Thank you so much, that was really lovely of you!"}))
        await ws.send(json.dumps({"type": "message", "conversation": "c3", "id": "w3", "from": "alice",
                                  "text": "Would you like to come to dinner with us on Friday?"}))
        w = {}
        for _ in range(3):
            raw = await ws.recv()
            # numbers in their shortest round-trip form (0.8, not 0.80000000000000004)
            reals = []
            a = json.loads(raw, parse_float=lambda t: reals.append(t) or float(t))
            long = [t for t in reals if len(t) > len(repr(float(t)))]
            check(not long, "shortest JSON numbers: %s" % long)
            w[a["id"]] = a["annotations"]
        if os.path.isdir("/usr/share/libexttextcat"):
            check(w["w2"].get("language", {}).get("code") == "en", "live language annotation")
        else:
            harness.skip_part("language annotation (/usr/share/libexttextcat not installed)")
        if have("vader.zta"):
            check(w["w2"]["sentiment"]["label"] == "positive" and w["w2"]["sentiment"]["compound"] > 0.5,
                  "live sentiment annotation")
        else:
            harness.skip_part("sentiment annotation (vader.zta not installed)")
        if have("spam.zta"):
            check(w["w1"]["spam"]["spam"] is True and w["w2"]["spam"]["spam"] is False, "live spam annotation")
        else:
            harness.skip_part("spam annotation (spam.zta not installed)")
        if have("moderation.zta"):
            check(w["w2"]["moderation"]["action"] == "allow", "live moderation annotation")
            check("spam_links" in w["w1"]["moderation"]["categories"], "shortener link flagged")
        else:
            harness.skip_part("moderation annotation (moderation.zta not installed)")
        sr = w["w3"].get("smart_replies", {})
        check(len(sr.get("replies", [])) == 3 and len(set(sr["replies"])) == 3, "three live smart replies")
        check(sr.get("intent") == "invitation", "the live replies answer an invitation")
        # fragmented message (the library sends an iterable as fragments)
        await ws.send(['{"type":"message","conversation":"c2",', '"id":"f1","text":"fragm', 'ented é"}'])
        a = json.loads(await ws.recv())
        check(a.get("id") == "f1" and a["annotations"]["chars"] == 12, "fragmented message reassembled")
        pong = await ws.ping(b"abc")
        await asyncio.wait_for(pong, 3)
        check(True, "ping answered with pong")
        await ws.send('{"type":"ping"}')
        check(json.loads(await ws.recv())["type"] == "pong", "application ping event")
        await ws.close(code=1000)
        check(ws.close_code == 1000, "close handshake echoes 1000")


async def test_oversize_and_binary(port):
    async with websockets.connect("ws://127.0.0.1:%d/v1/ws" % port, max_size=None) as ws:
        await ws.recv()
        await ws.send("x" * 70000)  # server.ws_max_message_bytes is 65536
        try:
            await asyncio.wait_for(ws.recv(), 5)
        except websockets.ConnectionClosed:
            pass
        check(ws.close_code == 1009, "oversize message closes with 1009 (got %r)" % ws.close_code)
    async with websockets.connect("ws://127.0.0.1:%d/v1/ws" % port) as ws:
        await ws.recv()
        await ws.send(b"\x00\x01")
        try:
            await asyncio.wait_for(ws.recv(), 5)
        except websockets.ConnectionClosed:
            pass
        check(ws.close_code == 1003, "binary message closes with 1003 (got %r)" % ws.close_code)


def test_raw_protocol(port):
    check(close_code_after(port, frame(1, b'{"type":"ping"}', mask=False)) == 1002, "unmasked client frame -> 1002")
    check(close_code_after(port, frame(1, b'{"type":"ping"}', rsv=4)) == 1002, "RSV bit set -> 1002")
    check(close_code_after(port, frame(3, b"")) == 1002, "reserved opcode -> 1002")
    check(close_code_after(port, frame(9, b"x" * 126)) == 1002, "control frame over 125 bytes -> 1002")
    check(close_code_after(port, frame(9, b"x", fin=False)) == 1002, "fragmented control frame -> 1002")
    check(close_code_after(port, frame(0, b"x")) == 1002, "continuation without a message -> 1002")
    check(close_code_after(port, frame(1, b"a", fin=False) + frame(1, b"b")) == 1002, "new message inside a fragmented one -> 1002")
    check(close_code_after(port, frame(1, b"\xff\xfe")) == 1007, "invalid UTF-8 text -> 1007")
    check(close_code_after(port, frame(1, b'"\xed\xa0\x80"')) == 1007, "UTF-8 surrogate -> 1007")
    check(close_code_after(port, frame(1, b"ab\xc3", fin=False) + frame(0, b"\x28")) == 1007,
          "UTF-8 broken across fragments -> 1007")
    check(close_code_after(port, frame(8, struct.pack("!H", 1005))) == 1002, "close code 1005 sent by a peer -> 1002")
    check(close_code_after(port, frame(8, b"\x03")) == 1002, "one-byte close payload -> 1002")
    check(close_code_after(port, frame(8, struct.pack("!H", 4000) + b"bye")) == 4000, "close 4000 is echoed")
    check(close_code_after(port, struct.pack("!BB", 0x81, 0xFF) + b"\xff" * 8) == 1002, "64-bit length with MSB set -> 1002")
    check(close_code_after(port, struct.pack("!BBQ", 0x81, 0xFF, 1 << 40) + b"mask") == 1009,
          "a 1 TiB frame header -> 1009 at once")
    # a character split across fragments, with a ping between them, is fine
    s, head, rest, _ = raw_connect(port)
    r = Reader(s, rest)
    r.next()
    msg = '{"type":"message","conversation":"c","id":"u1","text":"caf\u00e9"}'.encode()
    cut = msg.index(b"\xc3") + 1
    s.sendall(frame(1, msg[:cut], fin=False) + frame(9, b"mid") + frame(0, msg[cut:]))
    f1 = r.next()
    f2 = r.next()
    check(f1 and f1[0] == 10 and f1[1] == b"mid", "ping between fragments answered with its payload")
    ok = f2 and f2[0] == 1 and json.loads(f2[1]).get("id") == "u1" and json.loads(f2[1])["annotations"]["chars"] == 4
    check(ok, "character split across fragments accepted")
    s.close()


async def one_client(port, i):
    async with websockets.connect("ws://127.0.0.1:%d/v1/ws" % port) as ws:
        await ws.recv()
        for k in range(5):
            await ws.send(json.dumps({"type": "message", "conversation": "c%d" % i, "id": "m%d" % k,
                                      "text": "hello %d" % k}))
            a = json.loads(await ws.recv())
            if a.get("id") != "m%d" % k:
                return False
        return True


async def test_concurrent(port):
    res = await asyncio.gather(*(one_client(port, i) for i in range(50)), return_exceptions=True)
    check(all(r is True for r in res), "50 concurrent connections x 5 messages")


def test_idle_timeout():
    p, port, d = start_node({"ZENTALK_SERVER_WS_IDLE_TIMEOUT_S": "2"})
    try:
        s, head, rest, _ = raw_connect(port)
        s.settimeout(6)
        r = Reader(s, rest)
        r.next()
        t0 = time.time()
        f = r.next()
        check(f is not None and f[0] == 9, "a quiet connection is pinged")
        f = r.until(8)
        code = struct.unpack("!H", f[1][:2])[0] if f and len(f[1]) >= 2 else None
        check(code == 1001 and time.time() - t0 < 5, "an unanswered connection closes with 1001 after the idle timeout")
        s.close()
    finally:
        stop_node(p, d)


def jwt(secret, claims):
    import hashlib
    import hmac
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=")
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    sig = b64(hmac.new(secret.encode(), head + b"." + body, hashlib.sha256).digest())
    return (head + b"." + body + b"." + sig).decode()


def test_auth():
    """The handshake is authorised like any route (authorize() in server.c)."""
    secret = "s" * 40
    p, port, d = start_node({"ZENTALK_ENCRYPTION_JWT_SECRET": secret})
    try:
        s, head, rest, _ = raw_connect(port, "Authorization: Bearer a.b.c\r\n")
        check(head.startswith("HTTP/1.1 401"), "a bad bearer token on the handshake is 401")
        s.close()
        good = jwt(secret, {"sub": "alice", "role": "user", "exp": int(time.time()) + 600, "iss": "zentalk-api",
                            "aud": "zentalk-ai"})
        s, head, rest, _ = raw_connect(port, "Authorization: Bearer %s\r\n" % good)
        check(head.startswith("HTTP/1.1 101"), "a valid bearer token on the handshake is 101")
        s.close()
    finally:
        stop_node(p, d)


def test_shutdown():
    p, port, d = start_node()
    try:
        s, head, rest, _ = raw_connect(port)
        s.settimeout(8)
        r = Reader(s, rest)
        r.next()
        p.send_signal(signal.SIGTERM)
        f = r.until(8)
        code = struct.unpack("!H", f[1][:2])[0] if f and len(f[1]) >= 2 else None
        check(code == 1001, "node shutdown closes WebSockets with 1001")
        s.sendall(frame(8, struct.pack("!H", 1001)))
        s.close()
        check(p.wait(10) == 0, "node exits 0 after closing WebSockets")
    finally:
        stop_node(p, d)


def main():
    p, port, d = start_node()
    try:
        test_handshake(port)
        asyncio.run(test_messages(port))
        asyncio.run(test_oversize_and_binary(port))
        test_raw_protocol(port)
        asyncio.run(test_concurrent(port))
    finally:
        stop_node(p, d)
    test_idle_timeout()
    test_auth()
    test_shutdown()
    if FAILS:
        print("%d check(s) failed" % len(FAILS))
    else:
        print("all checks passed")
    sys.exit(harness.exit_status(len(FAILS)))


main()

#!/usr/bin/env python3
"""A webhook receiver for the tests: our JSON webhooks, or a fake DingTalk, Feishu or WeCom
group robot. Each checks the request's signature with Python's hmac, following the scheme as
its platform documents it (independently of groupsms's own code), answers as that platform
would, and appends what it got to a JSON-lines file.

usage: webhook_receiver.py MODE SECRET OUT PORTFILE DOWNFLAG [PORT]
  MODE      json | dingtalk | feishu | wecom
  SECRET    the signing secret (wecom: the key its URL must carry)
  OUT       JSON-lines file: one object per request
  PORTFILE  where the port listened on is written once listening
  DOWNFLAG  while this file exists, every request is answered 503 (a receiver that is down)
  PORT      the port to listen on (default: any free one)
"""

import base64
import hashlib
import hmac
import json
import os
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODE, SECRET, OUT, PORTFILE, DOWNFLAG = sys.argv[1:6]
PORT = int(sys.argv[6]) if len(sys.argv) > 6 else 0
LOCK = threading.Lock()


def b64_hmac(key: bytes, msg: bytes) -> str:
    return base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode()


def check_json(headers, query, body):
    """Ours: X-Groupsms-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>."""
    header = headers.get("X-Groupsms-Signature", "")
    fields = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    t, v1 = fields.get("t", ""), fields.get("v1", "")
    if not t.isdigit():
        return False, "no t= in the signature header"
    if abs(time.time() - int(t)) > 300:
        return False, "signature time too far from now"
    expected = hmac.new(SECRET.encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, v1):
        return False, "signature mismatch"
    return True, ""


def check_dingtalk(headers, query, body):
    """DingTalk custom robot: ?timestamp=<ms>&sign=<urlencoded b64 HMAC(secret, "ts\\nsecret")>."""
    ts = query.get("timestamp", [""])[0]
    sign = query.get("sign", [""])[0]
    if query.get("access_token", [""])[0] != "test-token":
        return False, "token is not exist"
    if not ts.isdigit() or abs(time.time() * 1000 - int(ts)) > 3600 * 1000:
        return False, "invalid timestamp"
    expected = b64_hmac(SECRET.encode(), f"{ts}\n{SECRET}".encode())
    if not hmac.compare_digest(expected, sign):
        return False, "sign not match"
    return True, ""


def check_feishu(headers, query, body):
    """Feishu custom bot: body timestamp (s), sign = b64 HMAC(key="ts\\nsecret", msg=empty)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return False, "body is not JSON"
    ts, sign = str(doc.get("timestamp", "")), doc.get("sign", "")
    if not ts.isdigit() or abs(time.time() - int(ts)) > 3600:
        return False, "timestamp is not within one hour from current time"
    expected = b64_hmac(f"{ts}\n{SECRET}".encode(), b"")
    if not hmac.compare_digest(expected, sign):
        return False, "sign match fail"
    return True, ""


def check_wecom(headers, query, body):
    """WeCom group robot: no signature, the key in the URL."""
    if query.get("key", [""])[0] != SECRET:
        return False, "invalid webhook url"
    return True, ""


CHECKS = {
    "json": check_json,
    "dingtalk": check_dingtalk,
    "feishu": check_feishu,
    "wecom": check_wecom,
}


def answer(ok, why):
    """What the platform says: status and body."""
    if MODE == "json":
        return (200, {"ok": True}) if ok else (401, {"error": why})
    if MODE == "feishu":
        return 200, ({"code": 0, "msg": "success"} if ok else {"code": 19021, "msg": why})
    if MODE == "dingtalk":
        return 200, ({"errcode": 0, "errmsg": "ok"} if ok else {"errcode": 310000, "errmsg": why})
    return 200, ({"errcode": 0, "errmsg": "ok"} if ok else {"errcode": 93000, "errmsg": why})


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        url = urllib.parse.urlparse(self.path)
        query = urllib.parse.parse_qs(url.query)
        record = {
            "path": url.path,
            "content_type": self.headers.get("Content-Type"),
            "signature": self.headers.get("X-Groupsms-Signature"),
            "raw_b64": base64.b64encode(body).decode(),
        }
        try:
            record["body"] = json.loads(body)
        except ValueError:
            record["body"] = None
        if os.path.exists(DOWNFLAG):
            status, reply = 503, {"error": "receiver down for maintenance"}
            record["down"] = True
            record["verified"] = False
        else:
            ok, why = CHECKS[MODE](self.headers, query, body)
            record["verified"] = ok
            record["why"] = why
            status, reply = answer(ok, why)
        data = json.dumps(reply).encode()
        with LOCK:
            with open(OUT, "a", encoding="utf-8") as f:
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
tmp = PORTFILE + ".tmp"
with open(tmp, "w") as f:
    f.write(str(server.server_address[1]))
os.rename(tmp, PORTFILE)
server.serve_forever()

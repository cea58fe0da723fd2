#!/usr/bin/env python3
"""A real HTTP client for the adapter tests, independent of the daemon's code.

POSTs standard input to URL and prints one JSON line: {"status": N, "body": <JSON or text>}.
  --bearer TOKEN               Authorization: Bearer TOKEN
  --dingtalk-secret SECRET     sign the request as DingTalk's outgoing robot does: headers
                               'timestamp' (Unix ms) and 'sign' = base64(HMAC-SHA256(SECRET,
                               timestamp + "\\n" + SECRET)), computed here with Python's hmac
  --timestamp MS               the timestamp to sign (default: now)
  --sign VALUE                 send this 'sign' instead of the computed one
"""
import argparse
import base64
import hashlib
import hmac
import json
import sys
import time
import urllib.error
import urllib.request


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--bearer")
    ap.add_argument("--dingtalk-secret")
    ap.add_argument("--timestamp")
    ap.add_argument("--sign")
    a = ap.parse_args()
    body = sys.stdin.buffer.read()
    headers = {"Content-Type": "application/json"}
    if a.bearer is not None:
        headers["Authorization"] = "Bearer " + a.bearer
    if a.dingtalk_secret is not None:
        ts = a.timestamp or str(int(time.time() * 1000))
        secret = a.dingtalk_secret.encode("utf-8")
        digest = hmac.new(secret, (ts + "\n").encode("utf-8") + secret, hashlib.sha256).digest()
        headers["timestamp"] = ts
        headers["sign"] = a.sign if a.sign is not None else base64.b64encode(digest).decode()
    req = urllib.request.Request(a.url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = raw.decode("utf-8", "replace")
    print(json.dumps({"status": status, "body": parsed}, ensure_ascii=False))


main()

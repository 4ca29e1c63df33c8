"""A webhook receiver written the way a strata user writes one: it verifies
every request with the `standardwebhooks` library (PyPI) and drops repeats by
`webhook-id`. Used by tests/state.rs.

Prints its port on the first line of stdout, then serves on 127.0.0.1:
  POST /hook   verify; 204 when new, 200 when a repeat, 401 with the reason when not genuine
  POST /clock  {"offset": seconds}: moves the receiver's clock, to replay a request later
  GET  /log    {"accepted": [...], "repeats": n, "rejected": [reasons]}
The secret is the environment variable WEBHOOK_SECRET.
"""
import json
import os
import sys
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import standardwebhooks.webhooks as library
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

offset = timedelta(0)


class Clock(datetime):
    """The library's clock, moved by `offset`."""

    @classmethod
    def now(cls, tz=None):
        return datetime.now(tz) + offset


library.datetime = Clock
webhook = Webhook(os.environ["WEBHOOK_SECRET"])
accepted, seen, rejected = [], set(), []
repeats = 0


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body=b""):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        log = {"accepted": accepted, "repeats": repeats, "rejected": rejected}
        self.reply(200, json.dumps(log).encode())

    def do_POST(self):
        global offset, repeats
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/clock":
            offset = timedelta(seconds=json.loads(body)["offset"])
            return self.reply(204)
        headers = {name: value for name, value in self.headers.items()}
        try:
            payload = webhook.verify(body, headers)
        except WebhookVerificationError as error:
            rejected.append(str(error))
            return self.reply(401, str(error).encode())
        webhook_id = headers["webhook-id"]
        if webhook_id in seen:
            repeats += 1
            return self.reply(200)
        seen.add(webhook_id)
        accepted.append(
            {
                "headers": {k.lower(): v for k, v in headers.items() if k.lower().startswith("webhook-")},
                "body": body.decode(),
                "keys": [t["idempotency_key"] for t in payload["transitions"]],
            }
        )
        self.reply(204)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()

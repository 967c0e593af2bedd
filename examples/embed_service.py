"""A small loyalty service on loyalty.store: compile once, apply each member's events in one database
transaction, ignore resent events, handle returns, explain every effect, deliver effects through an outbox.

    python examples/embed_service.py [--db WHERE]                 # the till demo below (CI runs it)
    python examples/embed_service.py serve [--db WHERE] [--port 8080]

WHERE is an SQLite file (default embed_service.db) or a postgresql:// URL (pip install 'loyalty[postgres]');
the environment variable LOYALTY_STORE gives it too. `serve` answers HTTP with JSON:

    POST /members/<id>/events   body: one event       -> {"resent": false, "effects": [...]}  (422: a bad event)
    GET  /members/<id>                                 -> the member's balances, tier, punches, rewards
    POST /outbox/deliver                               -> the effects not delivered yet, marked delivered

Several `serve` processes can share one database: they share members, budgets and the outbox through it.
See docs/embedding.md, "A store".
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import loyalty
from loyalty.store import open_store

PROGRAM = Path(__file__).resolve().parent / "programs" / "coffee_stars.loyalty"


class LoyaltyService:
    def __init__(self, compiled_json: str, where: str):
        # a deployed service loads the compiled program: no parser, no checker at runtime
        self.program = loyalty.load_compiled(compiled_json)
        self.where = where
        self._local = threading.local()  # a Store (a database connection) per thread
        _ = self.store  # open now: creates the tables, checks the budgets, fails early on a bad WHERE

    @property
    def store(self):
        store = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = open_store(self.program, self.where)
        return store

    def handle(self, member_id: str, event: dict) -> list[str]:
        try:
            result = self.store.apply(member_id, event)  # state, budgets, event id and outbox: one transaction
        except loyalty.EventError as err:
            return [f"rejected: {err}"]  # nothing changed; tell the till which field is wrong
        if result.resent:
            n = len(result.effects)
            return [f"resent: already applied, nothing changed ({n} effect{'' if n == 1 else 's'} recorded then)"]
        return [e.text for e in result.effects]

    def balance(self, member_id: str) -> int:
        return self.store.state(member_id).balance("stars")

    def deliver(self, send) -> int:
        """Hand every waiting effect to `send` (your till, CRM, message queue): at least once, by effect id."""
        total = 0
        while True:
            n = self.store.deliver(send)
            total += n
            if n == 0:
                return total


def demo(service: LoyaltyService) -> None:
    till = [
        {"signup": {"time": "2025-03-01T09:00:00-05:00"}},
        {"purchase": {"id": "till-7:1001", "time": "2025-03-01T09:30:00-05:00", "order": "1001",
                      "lines": [{"item": "latte", "amount": "4.50"}, {"item": "croissant", "amount": "3.25"}]}},
        # the till was offline and sends the same purchase again: nothing changes
        {"purchase": {"id": "till-7:1001", "time": "2025-03-01T09:30:00-05:00", "order": "1001",
                      "lines": [{"item": "latte", "amount": "4.50"}, {"item": "croissant", "amount": "3.25"}]}},
        {"purchase": {"time": "2025-03-02T08:00:00-05:00", "order": "1002", "lines": [{"item": "latte", "amount": "4.505"}]}},
        {"return": {"id": "ret-1", "time": "2025-03-02T10:00:00-05:00", "order": "1001", "lines": [{"item": "croissant"}]}},
        {"tick": {"time": "2025-03-05T00:00:00-05:00"}},
    ]
    for event in till:
        (kind, body), = event.items()
        print(f"{kind} at {body['time']}:")
        for line in service.handle("member-42", event):
            print(f"  {line}")
    crm: dict[str, dict] = {}  # the receiver keeps what it got by effect id: a second delivery changes nothing
    delivered = service.deliver(lambda e: crm.setdefault(e.effect_id, e.payload))
    print(f"outbox: {delivered} effects delivered, {len(crm)} distinct")
    final = service.balance("member-42")
    print(json.dumps({"member": "member-42", "stars": final}))
    # 50 welcome + latte 4 + 4 (coffee bonus) + croissant 3 -> order 1001 earned 7 + 4 = 11 stars;
    # returning the croissant (3.25 of 7.75) takes back 7 x 3.25/7.75 = 2.94 -> 3 stars: 50 + 8 = 58
    assert final == 58, final


class Handler(BaseHTTPRequestHandler):
    service: LoyaltyService

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _member(self) -> str | None:
        parts = self.path.split("/")
        if len(parts) >= 3 and parts[1] == "members" and parts[2]:
            return unquote(parts[2])
        return None

    def do_GET(self) -> None:
        member = self._member()
        if member is None or self.path.count("/") != 2:
            return self._send(404, {"error": "GET /members/<id>"})
        state = self.service.store.state(member)
        if state is None:
            return self._send(404, {"error": f"no member {member!r}"})
        self._send(200, state.summary())

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if self.path == "/outbox/deliver":
            sent: list = []
            self.service.deliver(lambda e: sent.append({"effect_id": e.effect_id, "member": e.member_id,
                                                        "event": e.event_id, **e.payload}))
            return self._send(200, {"delivered": sent})
        member = self._member()
        if member is None or not self.path.endswith("/events"):
            return self._send(404, {"error": "POST /members/<id>/events or POST /outbox/deliver"})
        try:
            event = json.loads(raw)
        except (UnicodeDecodeError, ValueError) as err:
            return self._send(400, {"error": f"the body is not JSON: {err}"})
        try:
            result = self.service.store.apply(member, event)
        except loyalty.EventError as err:
            return self._send(422, {"error": str(err), "field": err.field})
        except loyalty.StateMismatchError as err:
            return self._send(409, {"error": str(err)})
        self._send(200, {"resent": result.resent, "retries": result.retries,
                         "effects": [{"effect_id": e.effect_id, "text": e.text, **e.payload} for e in result.effects]})

    def log_message(self, format, *args) -> None:  # quiet: the service's own output is its answers
        pass


def serve(service: LoyaltyService, port: int) -> None:
    Handler.service = service
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"serving {service.program.name} on http://127.0.0.1:{server.server_address[1]} "
          f"(store: {service.store.backend.dialect})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", choices=["demo", "serve"], default="demo")
    parser.add_argument("--db", default=os.environ.get("LOYALTY_STORE", "embed_service.db"),
                        help="an SQLite file or a postgresql:// URL (default: $LOYALTY_STORE or embed_service.db)")
    parser.add_argument("--port", type=int, default=8080, help="serve: the port (0: any free one)")
    args = parser.parse_args(argv)
    compiled = loyalty.load(PROGRAM).to_json()  # at deploy time: `loyalty compile coffee_stars.loyalty --json`
    try:
        service = LoyaltyService(compiled, args.db)
    except Exception as err:  # a bad path or URL, a server that does not answer: say so, no traceback
        where = re.sub(r"//([^:/@]*):[^@/]*@", r"//\1:***@", args.db)  # never print a password
        print(f"error: cannot open the store {where!r}: {err}", file=sys.stderr)
        return 1
    if args.command == "serve":
        serve(service, args.port)
    else:
        demo(service)
    return 0


if __name__ == "__main__":
    sys.exit(main())

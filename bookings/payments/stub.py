"""A local stand-in for the part of Stripe's API the clinic uses, for the demo and the tests.

A WSGI app, standard library only, holding its state in memory:
- POST /v1/checkout/sessions, GET /v1/checkout/sessions/<id>, POST .../<id>/expire
- POST /v1/refunds (an Idempotency-Key seen before returns the same refund, as Stripe does)
- GET /checkout/<id>: the "hosted checkout" page, with Pay and Cancel buttons; Pay marks the
  session paid, sends the signed checkout.session.completed webhook to the app and redirects to
  the success URL; Cancel sends checkout.session.expired and goes to the cancel URL.

Webhooks are signed as Stripe signs them (Stripe-Signature: t=<unix time>,v1=HMAC-SHA256 of
"<t>.<body>" with the endpoint's secret), so the app's check is the real one. Run it on its own:
``python -m bookings.payments.stub --port 8765 --webhook-url http://127.0.0.1:8000/payments/webhook/stripe/``
(``manage.py runclinic`` starts it when no STRIPE_SECRET_KEY is set). Never for production.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import html
import itertools
import json
import sys
import threading
import time
import urllib.request
from socketserver import ThreadingMixIn
from urllib.parse import parse_qsl
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

DEFAULT_WEBHOOK_SECRET = "whsec_local_stub"


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """The Stripe-Signature header for ``payload``."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def _nest(pairs: list[tuple[str, str]]) -> dict:
    """Stripe's form encoding (a[b][0][c]=v) back into nested dicts (lists stay dicts keyed "0")."""
    root: dict = {}
    for key, value in pairs:
        parts = key.replace("]", "").split("[")
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return root


class StripeStub:
    def __init__(self, *, webhook_url: str = "", webhook_secret: str = DEFAULT_WEBHOOK_SECRET, public_url: str = ""):
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.public_url = public_url.rstrip("/")
        self.sessions: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.events: list[dict] = []
        self.requests: list[tuple[str, str]] = []
        self._idempotent: dict[str, dict] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    # -- the API ---------------------------------------------------------------------------
    def _id(self, prefix: str) -> str:
        return f"{prefix}_stub{next(self._ids):06d}"

    def create_session(self, params: dict) -> dict:
        item = params["line_items"]["0"]
        price = item["price_data"]
        sid = self._id("cs_test")
        session = {
            "id": sid,
            "object": "checkout.session",
            "url": f"{self.public_url}/checkout/{sid}",
            "status": "open",
            "payment_status": "unpaid",
            "payment_intent": None,
            "amount_total": int(price["unit_amount"]) * int(item.get("quantity", 1)),
            "currency": price["currency"],
            "client_reference_id": params.get("client_reference_id"),
            "success_url": params["success_url"],
            "cancel_url": params["cancel_url"],
            "expires_at": int(params["expires_at"]),
            "metadata": params.get("metadata", {}),
        }
        self.sessions[sid] = session
        return session

    def create_refund(self, params: dict) -> dict:
        pi = params.get("payment_intent", "")
        paid = [s for s in self.sessions.values() if s["payment_intent"] == pi]
        if not paid:
            raise LookupError(f"No such payment_intent: '{pi}'")
        refund = {
            "id": self._id("re"),
            "object": "refund",
            "payment_intent": pi,
            "amount": int(params.get("amount") or paid[0]["amount_total"]),
            "currency": paid[0]["currency"],
            "status": "succeeded",
            "metadata": params.get("metadata", {}),
        }
        self.refunds[refund["id"]] = refund
        return refund

    def pay(self, sid: str) -> dict:
        """The client pays: the session completes and the app is told, signed."""
        session = self.sessions[sid]
        if session["status"] == "open":
            session.update(status="complete", payment_status="paid", payment_intent=self._id("pi"))
        return self.send_event("checkout.session.completed", session)

    def abandon(self, sid: str) -> dict:
        """The session expires unpaid (the client left, or the app expired it)."""
        session = self.sessions[sid]
        if session["status"] == "open":
            session["status"] = "expired"
        return self.send_event("checkout.session.expired", session)

    def event(self, event_type: str, obj: dict) -> dict:
        event = {
            "id": self._id("evt"),
            "object": "event",
            "type": event_type,
            "created": int(time.time()),
            "data": {"object": dict(obj)},
        }
        self.events.append(event)
        return event

    def signed(self, event: dict) -> tuple[bytes, str]:
        """The body and the Stripe-Signature header of ``event``, as Stripe would deliver them."""
        body = json.dumps(event)
        return body.encode(), sign(body, self.webhook_secret)

    def send_event(self, event_type: str, obj: dict) -> dict:
        event = self.event(event_type, obj)
        if self.webhook_url:
            self.deliver(event)
        return event

    def deliver(self, event: dict) -> int:
        """POST ``event`` (again, for a replay) to the app's webhook URL; the answer's status."""
        body, header = self.signed(event)
        request = urllib.request.Request(  # noqa: S310 (a configured local URL)
            self.webhook_url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Stripe-Signature": header},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (a configured local URL)
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    # -- WSGI -------------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        self.requests.append((method, path))
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length).decode() if length else ""
        form = _nest(parse_qsl(body, keep_blank_values=True))
        parts = [p for p in path.split("/") if p]
        try:
            if parts[:1] == ["v1"]:
                # API calls one at a time (idempotency keys); the checkout page's buttons are not
                # locked, as their webhook's handler may call the API back.
                with self._lock:
                    return self._route(method, parts, form, environ, start_response)
            return self._route(method, parts, form, environ, start_response)
        except LookupError as exc:
            return self._json(start_response, 404, {"error": {"type": "invalid_request_error", "message": str(exc)}})
        except (KeyError, ValueError) as exc:
            message = f"Missing or bad parameter: {exc}"
            return self._json(start_response, 400, {"error": {"type": "invalid_request_error", "message": message}})

    def _route(self, method, parts, form, environ, start_response):
        key = environ.get("HTTP_IDEMPOTENCY_KEY")
        if method == "POST" and key and key in self._idempotent:
            return self._json(start_response, 200, self._idempotent[key])
        match method, parts:
            case "POST", ["v1", "checkout", "sessions"]:
                result = self.create_session(form)
            case "GET", ["v1", "checkout", "sessions", sid]:
                result = self._session(sid)
            case "POST", ["v1", "checkout", "sessions", sid, "expire"]:
                session = self._session(sid)
                if session["status"] != "open":
                    return self._json(
                        start_response,
                        400,
                        {"error": {"type": "invalid_request_error", "message": "Session is not open."}},
                    )
                session["status"] = "expired"
                result = session
            case "POST", ["v1", "refunds"]:
                result = self.create_refund(form)
            case "GET", ["checkout", sid]:
                return self._page(start_response, self._session(sid))
            case "POST", ["checkout", sid, "pay"]:
                session = self._session(sid)
                self.pay(sid)
                return self._redirect(start_response, session["success_url"].replace("{CHECKOUT_SESSION_ID}", sid))
            case "POST", ["checkout", sid, "cancel"]:
                session = self._session(sid)
                self.abandon(sid)
                return self._redirect(start_response, session["cancel_url"])
            case _:
                raise LookupError("Unrecognized request URL")
        if method == "POST" and key:
            self._idempotent[key] = result
        return self._json(start_response, 200, result)

    def _session(self, sid: str) -> dict:
        if sid not in self.sessions:
            raise LookupError(f"No such checkout.session: '{sid}'")
        return self.sessions[sid]

    @staticmethod
    def _json(start_response, status: int, data: dict):
        start_response(f"{status} {'OK' if status == 200 else 'Error'}", [("Content-Type", "application/json")])
        return [json.dumps(data).encode()]

    @staticmethod
    def _redirect(start_response, url: str):
        start_response("303 See Other", [("Location", url)])
        return [b""]

    @staticmethod
    def _page(start_response, session: dict):
        amount = f"{session['amount_total'] / 100:.2f} {session['currency'].upper()}"
        sid = html.escape(session["id"])
        body = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Test checkout (local stub)</title></head>
<body><main><h1>Test checkout (local stub)</h1>
<p>No real payment is taken. Amount: <strong id="amount">{html.escape(amount)}</strong></p>
<p>Status: {html.escape(session["status"])}</p>
<form method="post" action="/checkout/{sid}/pay"><button type="submit">Pay</button></form>
<form method="post" action="/checkout/{sid}/cancel"><button type="submit">Cancel and go back</button></form>
</main></body></html>"""
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [body.encode()]


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


def serve_in_thread(stub: StripeStub, host: str = "127.0.0.1", port: int = 0):
    """Serve ``stub`` from a daemon thread; returns the server (its ``server_port``; ``shutdown()``)."""
    server = make_server(host, port, stub, server_class=_ThreadingServer, handler_class=_QuietHandler)
    if not stub.public_url:
        stub.public_url = f"http://{host}:{server.server_port}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description="A local stub of the Stripe API (demo and tests only).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--webhook-url", required=True)
    parser.add_argument("--webhook-secret", default=DEFAULT_WEBHOOK_SECRET)
    args = parser.parse_args()
    stub = StripeStub(
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
        public_url=f"http://{args.host}:{args.port}",
    )
    server = make_server(args.host, args.port, stub, server_class=_ThreadingServer)
    sys.stdout.write(f"Stripe stub on http://{args.host}:{args.port}/ sending webhooks to {args.webhook_url}\n")
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()

"""A small LTI 1.3 platform (the LMS side) for the tests, on 127.0.0.1 in a thread.

It has its own RSA key and JWKS endpoint, starts launches (OIDC third-party login), answers
the authorisation request with a signed ``id_token`` in an auto-submitting form, issues
access tokens for the Assignment and Grade Services (client credentials with the tool's JWT
assertion, checked against the tool's JWKS) and keeps line items and scores, recording every
request it receives. ``fail(path_part, times)`` makes the next requests to a path answer 503.

    with Platform(tool_jwks=...) as lms:
        lms.add_user("ann", roles=[LEARNER], given_name="Ann")
        url = lms.launch_url("ann", tool_login=..., target=...)   # what the LMS link does

Launch tampering for refusal tests: ``launch_url(..., tamper={...})`` changes the claims of
that launch's id_token (``exp``, ``aud``, a ``deployment_id``...), ``tamper={"key":
"rogue"}`` signs it with a key the JWKS does not hold.
"""

from __future__ import annotations

import html
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership"
LEARNER = MEMBERSHIP + "#Learner"
INSTRUCTOR = MEMBERSHIP + "#Instructor"
TA = MEMBERSHIP + "/Instructor#TeachingAssistant"
CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
AGS_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/"


class Platform:
    def __init__(self, client_id="nncourse-tool", deployment_id="dep-1", tool_jwks=None):
        self.client_id = client_id
        self.deployment_id = deployment_id
        self.tool_jwks = tool_jwks  # dict (a JWKS) or a URL the platform fetches
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.rogue = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.users: dict[str, dict] = {}
        self.redirect_uris: set[str] = set()
        self.launches: dict[str, dict] = {}  # lti_message_hint -> tampering
        self.tokens: dict[str, set] = {}  # access token -> scopes
        self.lineitems: dict[str, dict] = {}  # id -> line item
        self.scores: dict[tuple[str, str], list[dict]] = {}  # (line item id, userId) -> posts
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request
        self.failures: dict[str, list] = {}  # path part -> [times left, status]
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.context = "ctx-1"
        self.thread = None

    # -------------------------------------------------------------- set-up
    issuer = property(lambda self: self.base)
    jwks_url = property(lambda self: f"{self.base}/jwks")
    authorize_url = property(lambda self: f"{self.base}/auth")
    token_url = property(lambda self: f"{self.base}/token")
    lineitems_url = property(lambda self: f"{self.base}/ags/{self.context}/lineitems")

    def __enter__(self):
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def add_user(self, login, roles, **claims):
        self.users[login] = {"sub": claims.pop("sub", f"lms-{secrets.token_hex(4)}"),
                             "roles": roles, **claims}  # fmt: skip
        return self.users[login]

    def settings(self, **extra) -> dict:
        """The tool's ``lti.json`` for this platform."""
        return {
            "issuer": self.issuer,
            "client_id": self.client_id,
            "deployment_ids": [self.deployment_id],
            "authorize_url": self.authorize_url,
            "jwks_url": self.jwks_url,
            "token_url": self.token_url,
            **extra,
        }

    def fail(self, path_part: str, times: int, status: int = 503):
        """The next ``times`` requests whose path contains ``path_part`` answer ``status``."""
        with self.lock:
            self.failures[path_part] = [times, status]

    def launch_url(self, login, tool_login, target, tamper=None) -> str:
        """The LMS link: starts the OIDC login at the tool (``tool_login``)."""
        hint = secrets.token_urlsafe(8)
        self.launches[hint] = dict(tamper or {})
        args = {"iss": self.issuer, "login_hint": login, "target_link_uri": target,
                "lti_message_hint": hint, "client_id": self.client_id,
                "lti_deployment_id": self.deployment_id}  # fmt: skip
        return f"{tool_login}?{urlencode(args)}"

    def scores_of(self, user_id) -> dict[str, dict]:
        """line item resourceId -> the last score posted for ``user_id``."""
        out = {}
        for (item_id, uid), posts in self.scores.items():
            if uid == user_id and posts:
                out[self.lineitems[item_id]["resourceId"]] = posts[-1]
        return out

    # -------------------------------------------------------------- the protocol
    def id_token(self, login, nonce, tamper) -> str:
        user = self.users[login]
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.client_id,
            "azp": self.client_id,
            "sub": user["sub"],
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            CLAIM + "version": "1.3.0",
            CLAIM + "message_type": "LtiResourceLinkRequest",
            CLAIM + "deployment_id": self.deployment_id,
            CLAIM + "target_link_uri": "",
            CLAIM + "resource_link": {"id": "link-1", "title": "Course hub"},
            CLAIM + "roles": user["roles"],
            CLAIM + "context": {"id": self.context, "label": "NN101", "title": "Neural nets"},
            AGS_CLAIM: {
                "scope": [AGS_SCOPE + s for s in ("lineitem", "result.readonly", "score")],
                "lineitems": self.lineitems_url,
            },
            **{k: v for k, v in user.items() if k not in ("sub", "roles")},
        }
        tamper = dict(tamper)
        key = self.rogue if tamper.pop("key", None) == "rogue" else self.key
        if "deployment_id" in tamper:
            claims[CLAIM + "deployment_id"] = tamper.pop("deployment_id")
        claims.update(tamper)
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "platform-1"})

    def authorize(self, q) -> tuple[int, str]:
        """The OIDC authorisation endpoint: an auto-submitting form with the id_token."""
        need = {"response_type": "id_token", "scope": "openid", "response_mode": "form_post",
                "client_id": self.client_id, "prompt": "none"}  # fmt: skip
        for k, v in need.items():
            if q.get(k) != v:
                return 400, f"bad authorisation request: {k}={q.get(k)!r}, expected {v!r}"
        if q.get("login_hint") not in self.users:
            return 400, f"unknown login_hint {q.get('login_hint')!r}"
        if not q.get("nonce") or not q.get("state"):
            return 400, "nonce and state are required"
        self.redirect_uris.add(q["redirect_uri"])
        tamper = self.launches.get(q.get("lti_message_hint"), {})
        token = self.id_token(q["login_hint"], q["nonce"], tamper)
        fields = "".join(
            f'<input type="hidden" name="{k}" value="{html.escape(v)}">'
            for k, v in (("id_token", token), ("state", q["state"]))
        )
        action = html.escape(q["redirect_uri"])
        submit = '<script>document.getElementById("lti").submit()</script>'
        page = f'<html><body><form id="lti" method="post" action="{action}">{fields}</form>'
        page += f"{submit}</body></html>"
        return 200, page

    def tool_keys(self) -> dict:
        if isinstance(self.tool_jwks, str):
            import requests

            return requests.get(self.tool_jwks, timeout=10).json()
        return self.tool_jwks

    def issue_token(self, form) -> tuple[int, dict]:
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}
        assertion = form.get("client_assertion", "")
        try:
            kid = jwt.get_unverified_header(assertion).get("kid")
            jwk = next(k for k in self.tool_keys()["keys"] if k["kid"] == kid)
            claims = jwt.decode(assertion, RSAAlgorithm.from_jwk(json.dumps(jwk)),
                                algorithms=["RS256"], audience=self.token_url,
                                issuer=self.client_id)  # fmt: skip
        except (StopIteration, jwt.PyJWTError) as err:
            return 401, {"error": "invalid_client", "error_description": repr(err)}
        if claims.get("sub") != self.client_id:
            return 401, {"error": "invalid_client"}
        token = secrets.token_urlsafe(16)
        self.tokens[token] = set(form.get("scope", "").split())
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600,
                     "scope": form.get("scope", "")}  # fmt: skip

    def ags(self, method, path, query, body, token) -> tuple[int, object]:
        scopes = self.tokens.get(token)
        if scopes is None:
            return 401, {"error": "no or unknown access token"}
        prefix = f"/ags/{self.context}/lineitems"
        if not path.startswith(prefix):
            return 404, {"error": f"no such container {path}"}
        rest = path[len(prefix) :].strip("/").split("/") if path != prefix else []
        if not rest:
            if method == "GET":
                items = list(self.lineitems.values())
                if "resource_id" in query:
                    items = [i for i in items if i["resourceId"] == query["resource_id"]]
                return 200, items
            if method == "POST":
                if AGS_SCOPE + "lineitem" not in scopes:
                    return 403, {"error": "scope lineitem missing"}
                item_id = f"{self.base}{prefix}/{len(self.lineitems) + 1}"
                self.lineitems[item_id] = {**body, "id": item_id}
                return 201, self.lineitems[item_id]
        item_id = f"{self.base}{prefix}/{rest[0]}"
        if item_id not in self.lineitems:
            return 404, {"error": f"no line item {item_id}"}
        if len(rest) == 1 and method == "GET":
            return 200, self.lineitems[item_id]
        if len(rest) == 1 and method == "PUT":
            self.lineitems[item_id] = {**body, "id": item_id}
            return 200, self.lineitems[item_id]
        if rest[1:] == ["scores"] and method == "POST":
            if AGS_SCOPE + "score" not in scopes:
                return 403, {"error": "scope score missing"}
            for k in ("userId", "scoreGiven", "scoreMaximum", "timestamp", "gradingProgress"):
                if k not in body:
                    return 400, {"error": f"score without {k}"}
            self.scores.setdefault((item_id, body["userId"]), []).append(body)
            return 204, None
        if rest[1:] == ["results"] and method == "GET":
            if AGS_SCOPE + "result.readonly" not in scopes:
                return 403, {"error": "scope result.readonly missing"}
            item = self.lineitems[item_id]
            out = []
            for (iid, uid), posts in self.scores.items():
                if iid == item_id and posts:
                    last = posts[-1]  # kept on its line item's scale, to hundredths (Canvas)
                    scale = float(item["scoreMaximum"]) / float(last["scoreMaximum"])
                    out.append({"id": f"{item_id}/results/{uid}", "userId": uid,
                                "resultScore": round(float(last["scoreGiven"]) * scale, 2),
                                "resultMaximum": float(item["scoreMaximum"]),
                                "scoreOf": item_id})  # fmt: skip
            return 200, out
        return 405, {"error": f"{method} {path} not supported"}


def _handler(platform: Platform):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _reply(self, status, body, content_type="application/json"):
            data = b""
            if body is not None:
                data = (body if isinstance(body, str) else json.dumps(body)).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _failing(self, path) -> bool:
            with platform.lock:
                for part, left in platform.failures.items():
                    if part in path and left[0] > 0:
                        left[0] -= 1
                        self._reply(left[1], {"error": "unavailable (test)"})
                        return True
            return False

        def _dispatch(self, method):
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            with platform.lock:
                platform.requests.append((method, url.path))
            if self._failing(url.path):
                return
            if url.path == "/jwks" and method == "GET":
                jwk = json.loads(RSAAlgorithm.to_jwk(platform.key.public_key()))
                return self._reply(200, {"keys": [{**jwk, "kid": "platform-1", "alg": "RS256",
                                                   "use": "sig"}]})  # fmt: skip
            if url.path == "/auth":
                if method == "POST":
                    query.update({k: v[0] for k, v in parse_qs(raw.decode()).items()})
                status, page = platform.authorize(query)
                return self._reply(status, page, "text/html")
            if url.path == "/token" and method == "POST":
                form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                return self._reply(*platform.issue_token(form))
            if url.path.startswith("/ags/"):
                auth = self.headers.get("Authorization", "")
                token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else ""
                body = json.loads(raw) if raw else None
                with platform.lock:
                    status, out = platform.ags(method, url.path, query, body, token)
                return self._reply(status, out)
            return self._reply(404, {"error": f"no route {method} {url.path}"})

        def do_GET(self):
            self._dispatch("GET")

        def do_POST(self):
            self._dispatch("POST")

        def do_PUT(self):
            self._dispatch("PUT")

    return Handler

"""LTI 1.3 for the course: the tool's settings and keys, the roster from launches, grade passback.

An LMS (Canvas, Moodle, ...) is the *platform*, the course hub the *tool*. Both sides of the
tool live here so that the hub (``deploy/hub/lti_config.py``) and ``python -m autograder
export --format lti`` read one settings file, ``lti.json`` (docs/deploy.md, section 8)::

    {"issuer": "https://canvas.instructure.com",      # the platform's "iss"
     "client_id": "10000000000042",                   # the tool's id at the platform
     "deployment_ids": ["1:8865aa05b4b79b64a91a86042e43af5ea8ae79eb"],
     "authorize_url": "https://sso.canvaslms.com/api/lti/authorize_redirect",
     "jwks_url": "https://sso.canvaslms.com/api/lti/security/jwks",
     "token_url": "https://sso.canvaslms.com/login/oauth2/token",
     "keys": "lti_keys"}                              # the tool's private keys, *.pem

Optional: ``username_claim`` (default ``sub``, the platform's stable user id; ``custom_X``
reads ``X`` of the custom claim), ``key_id`` (the key that signs; default the last file by
name, so keys named by date rotate by adding one), ``lineitems`` (the course's line items URL;
by default the one the last launch carried, kept in ``COURSE/lti_ags.json``).

Grade passback uses the Assignment and Grade Services: an OAuth2 access token (client
credentials, the request signed by the tool's key as a JWT assertion), one line item per
assignment (``resourceId`` = the assignment id; created when missing), the platform's
current results read first so that only changed scores are posted (a re-run posts nothing),
retries with back-off on 5xx, 429 and connection errors, and a score for a student whose hand
grading is pending is held back unless ``include_pending``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from autograder.files import atomic_write

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
ROLES_CLAIM = CLAIM + "roles"
DEPLOYMENT_CLAIM = CLAIM + "deployment_id"
CUSTOM_CLAIM = CLAIM + "custom"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
AGS_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/"
SCOPES = [AGS_SCOPE + s for s in ("lineitem", "result.readonly", "score")]
MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership"
# context roles that grade (a TA is the sub-role Instructor#TeachingAssistant)
STAFF_ROLES = {"Instructor", "TeachingAssistant", "ContentDeveloper", "Administrator"}
LINEITEM = "application/vnd.ims.lis.v2.lineitem+json"
LINEITEMS = "application/vnd.ims.lis.v2.lineitemcontainer+json"
RESULTS = "application/vnd.ims.lis.v2.resultcontainer+json"
SCORE = "application/vnd.ims.lis.v1.score+json"
AGS_FILE = "lti_ags.json"  # in the course folder: the AGS endpoint of the last launch
REPORT_FILE = "lti_passback.txt"
SAME_SCORE = 0.005  # points: LMSs keep scores to hundredths; closer than this is unchanged


# ---------------------------------------------------------------- settings and keys


@dataclasses.dataclass
class ToolSettings:
    """The tool's registration at one platform (``lti.json``)."""

    issuer: str
    client_id: str
    deployment_ids: list[str]
    authorize_url: str
    jwks_url: str
    token_url: str
    keys: str = "lti_keys"
    key_id: str = ""
    username_claim: str = "sub"
    lineitems: str = ""
    path: str = ""  # the file read (relative paths are relative to its folder)

    def __post_init__(self):
        for name in ("issuer", "client_id", "authorize_url", "jwks_url", "token_url"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"lti settings: {name} must be a non-empty string, got {value!r}")
        for name in ("authorize_url", "jwks_url", "token_url"):
            if urlsplit(getattr(self, name)).scheme not in ("http", "https"):
                raise ValueError(
                    f"lti settings: {name} must be an http(s) URL, got {getattr(self, name)!r}"
                )
        ids = self.deployment_ids
        if not isinstance(ids, list) or not ids or not all(isinstance(d, str) and d for d in ids):
            raise ValueError(
                f"lti settings: deployment_ids must be a non-empty list of strings, got {ids!r}"
            )

    @property
    def key_folder(self) -> Path:
        return Path(self.path).parent / self.keys if self.path else Path(self.keys)


def load_settings(path) -> ToolSettings:
    """Read ``lti.json``; one clear line for a missing file, unknown or missing fields."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(
            f"lti settings: {path} not found (the tool's registration at the LMS, see "
            f"docs/deploy.md section 8)"
        ) from None
    except json.JSONDecodeError as err:
        raise ValueError(f"lti settings: {path} is not JSON ({err})") from None
    fields = {f.name for f in dataclasses.fields(ToolSettings)} - {"path"}
    if not isinstance(data, dict):
        raise ValueError(f"lti settings: {path} must hold a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - fields)
    if unknown:
        raise ValueError(f"lti settings: unknown field(s) {unknown} in {path}; known: "
                         f"{sorted(fields)}")  # fmt: skip
    try:
        return ToolSettings(**data, path=str(path.resolve()))
    except TypeError as err:  # a required field is missing
        raise ValueError(f"lti settings: {path}: {err}") from None


def new_key(folder, kid: str | None = None) -> Path:
    """A fresh RSA key for the tool, ``folder/<kid>.pem`` (0600); ``kid`` defaults to the
    UTC time, so that the newest key sorts last and signs."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    kid = kid or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = folder / f"{kid}.pem"
    if path.exists():
        raise ValueError(f"new_key: {path} exists already")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return path


def load_keys(folder) -> dict:
    """kid -> private key, for every ``*.pem`` in ``folder`` (sorted by name)."""
    from cryptography.hazmat.primitives import serialization

    paths = sorted(Path(folder).glob("*.pem"))
    if not paths:
        raise ValueError(
            f"lti keys: no *.pem in {folder}; make one with `python -m autograder.term.lti new-key "
            f"{folder}`"
        )
    return {p.stem: serialization.load_pem_private_key(p.read_bytes(), None) for p in paths}


def jwks(folder) -> dict:
    """The tool's public keys as a JSON Web Key Set (what the platform fetches)."""
    from jwt.algorithms import RSAAlgorithm

    keys = []
    for kid, key in load_keys(folder).items():
        jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
        keys.append({**jwk, "kid": kid, "alg": "RS256", "use": "sig"})
    return {"keys": keys}


def signing_key(settings: ToolSettings):
    """(kid, private key) that signs: ``key_id`` if set, else the last key by name."""
    keys = load_keys(settings.key_folder)
    kid = settings.key_id or list(keys)[-1]
    if kid not in keys:
        raise ValueError(f"lti settings: key_id {kid!r} is not in {settings.key_folder} "
                         f"(have {sorted(keys)})")  # fmt: skip
    return kid, keys[kid]


# ---------------------------------------------------------------- launches


def course_role(roles) -> str | None:
    """``instructor`` (Instructor, TA, content developer, course administrator), ``student``
    (Learner) or None, from the LTI roles claim (full URIs or the short context names)."""
    names = set()
    for role in roles or []:
        if not isinstance(role, str):
            continue
        if role.startswith(MEMBERSHIP + "#") or role.startswith(MEMBERSHIP + "/"):
            names.add(role.rsplit("#", 1)[-1])
        elif "/" not in role and "#" not in role:  # the deprecated short form
            names.add(role)
    if names & STAFF_ROLES:
        return "instructor"
    if "Learner" in names:
        return "student"
    return None


def record_launch(course_dir, claims: dict, username: str) -> None:
    """What a verified launch tells the course: a learner joins nbgrader's gradebook (their
    name, e-mail and ``lms_user_id`` = the platform's ``sub``), and the AGS endpoint of the
    course is kept in ``COURSE/lti_ags.json`` for grade passback. Files this writes as root
    go to the owner of the course folder (the grader account)."""
    from autograder.course import Course

    course = Course(course_dir)
    owner = course.root.stat() if os.geteuid() == 0 else None
    if course_role(claims.get(ROLES_CLAIM)) == "student":
        new_db = not course.db_path.exists()
        with course.gradebook() as gb:
            gb.update_or_create_student(
                username,
                first_name=claims.get("given_name") or None,
                last_name=claims.get("family_name") or None,
                email=claims.get("email") or None,
                lms_user_id=claims["sub"],
            )
        if new_db and owner:
            os.chown(course.db_path, owner.st_uid, owner.st_gid)
    ags = claims.get(AGS_CLAIM) or {}
    if ags.get("lineitems"):
        path = course.root / AGS_FILE
        keep = {"lineitems": ags["lineitems"], "scope": ags.get("scope", [])}
        try:
            same = json.loads(path.read_text()) == keep
        except (OSError, ValueError):
            same = False
        if not same:
            ids = (owner.st_uid, owner.st_gid) if owner else None
            atomic_write(path, json.dumps(keep, indent=1), owner=ids)


# ---------------------------------------------------------------- Assignment and Grade Services


class PassbackIncomplete(ValueError):
    """Some scores did not reach the platform (a ValueError, so the command line reports it
    as one line with exit status 2, as it does other refusals)."""


class AGSClient:
    """The platform's Assignment and Grade Services, as the tool.

    Every request is retried on a 5xx or 429 answer and on connection errors and timeouts,
    ``retries`` times, waiting ``backoff * 2**i`` seconds (or the ``Retry-After`` asked for,
    at most 30 s). ``notes`` collects what was retried, for the report.
    """

    def __init__(self, settings: ToolSettings, retries: int = 3, backoff: float = 1.0,
                 timeout: float = 20.0, session=None):  # fmt: skip
        import requests

        self.settings = settings
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self.http = session or requests.Session()
        self._token = None
        self._token_expires = 0.0
        self.notes: list[str] = []

    def _send(self, method, url, auth=True, headers=None, **kw):
        import requests

        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                self.notes.append(last)
            sent_headers = dict(headers or {})
            if auth:
                sent_headers["Authorization"] = f"Bearer {self.token()}"
            try:
                r = self.http.request(method, url, headers=sent_headers, timeout=self.timeout, **kw)
            except (requests.ConnectionError, requests.Timeout) as err:
                last = f"{type(err).__name__} on {method} {url}"
                wait = self.backoff * 2**attempt
            else:
                if r.status_code < 500 and r.status_code != 429:
                    if r.status_code >= 400:
                        raise PassbackIncomplete(
                            f"{method} {url}: {r.status_code} {r.reason}: {r.text[:300]}"
                        )
                    return r
                last = f"{r.status_code} {r.reason} on {method} {url}"
                wait = self.backoff * 2**attempt
                after = r.headers.get("Retry-After", "")
                if after.isdigit():
                    wait = min(float(after), 30.0)
            if attempt < self.retries:
                time.sleep(wait)
        raise PassbackIncomplete(f"{last}, after {self.retries + 1} tries")

    def token(self) -> str:
        """An access token for the AGS scopes (OAuth2 client credentials, JWT assertion)."""
        import jwt

        if self._token and time.time() < self._token_expires - 30:
            return self._token
        kid, key = signing_key(self.settings)
        now = int(time.time())
        assertion = jwt.encode(
            {
                "iss": self.settings.client_id,
                "sub": self.settings.client_id,
                "aud": self.settings.token_url,
                "iat": now,
                "exp": now + 300,
                "jti": uuid.uuid4().hex,
            },
            key,
            algorithm="RS256",
            headers={"kid": kid},
        )
        r = self._send(
            "POST",
            self.settings.token_url,
            auth=False,
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": assertion,
                "scope": " ".join(SCOPES),
            },
        )
        body = r.json()
        if "access_token" not in body:
            raise PassbackIncomplete(f"token endpoint {self.settings.token_url} gave no "
                                     f"access_token: {body}")  # fmt: skip
        self._token = body["access_token"]
        self._token_expires = time.time() + float(body.get("expires_in", 3600))
        return self._token

    def line_items(self, lineitems: str, resource_id: str) -> list[dict]:
        """The line items of the course whose ``resourceId`` is ``resource_id`` (all pages)."""
        items, url = [], lineitems
        params = {"resource_id": resource_id}
        while url:
            r = self._send("GET", url, params=params, headers={"Accept": LINEITEMS})
            items += r.json()
            url, params = r.links.get("next", {}).get("url"), None
        return [i for i in items if i.get("resourceId") == resource_id]

    def create_line_item(self, lineitems: str, resource_id: str, maximum: float) -> dict:
        body = {"scoreMaximum": maximum, "label": resource_id, "resourceId": resource_id,
                "tag": "grade"}  # fmt: skip
        r = self._send("POST", lineitems, json=body, headers={"Content-Type": LINEITEM,
                                                               "Accept": LINEITEM})  # fmt: skip
        return r.json()

    def update_line_item(self, item: dict, maximum: float) -> dict:
        body = {**item, "scoreMaximum": maximum}
        r = self._send("PUT", item["id"], json=body, headers={"Content-Type": LINEITEM,
                                                              "Accept": LINEITEM})  # fmt: skip
        return r.json()

    def results(self, item: dict) -> dict[str, float]:
        """userId -> current score on the scale of our maximum (the platform's results)."""
        out, url = {}, _below(item["id"], "results")
        while url:
            r = self._send("GET", url, headers={"Accept": RESULTS})
            for res in r.json():
                if res.get("resultScore") is None:
                    continue
                top = res.get("resultMaximum")  # absent: the line item's own maximum
                scale = float(item["scoreMaximum"]) / float(top) if top else 1.0
                out[res["userId"]] = float(res["resultScore"]) * scale
            url = r.links.get("next", {}).get("url")
        return out

    def post_score(self, item: dict, user_id: str, score: float, maximum: float,
                   submitted: bool) -> None:  # fmt: skip
        from datetime import UTC, datetime

        body = {
            "userId": user_id,
            "scoreGiven": score,
            "scoreMaximum": maximum,
            "activityProgress": "Completed" if submitted else "Initialized",
            "gradingProgress": "FullyGraded",
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
        }
        self._send("POST", _below(item["id"], "scores"), json=body,
                   headers={"Content-Type": SCORE})  # fmt: skip


def _below(url: str, leaf: str) -> str:
    """``<line item URL>/leaf``, the query string kept at the end (as AGS says)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/" + leaf))


@dataclasses.dataclass
class Sent:
    """What passback did for one student and assignment."""

    assignment: str
    student_id: str
    score: float
    max_score: float
    status: str  # sent, updated, unchanged, held, no-lms-id, failed
    detail: str = ""


def lineitems_url(course, settings: ToolSettings) -> str:
    if settings.lineitems:
        return settings.lineitems
    path = Path(course.root) / AGS_FILE
    try:
        return json.loads(path.read_text())["lineitems"]
    except (OSError, ValueError, KeyError):
        raise ValueError(
            f"lti: no line items URL: launch the tool once from the LMS course (the launch "
            f"records it in {path}) or set lineitems in {settings.path}"
        ) from None


def passback(course, settings: ToolSettings, include_pending=False, client=None) -> list[Sent]:
    """Post every changed score to the platform; returns one :class:`Sent` per student and
    assignment (in the order of the gradebook export)."""
    from autograder.reporting.export import gradebook_rows, roster

    client = client or AGSClient(settings)
    container = lineitems_url(course, settings)
    rows, people = gradebook_rows(course), roster(course)
    out: list[Sent] = []
    for aid in sorted({r["assignment"] for r in rows}):
        mine = [r for r in rows if r["assignment"] == aid]
        maximum = mine[0]["max_score"]
        try:
            found = client.line_items(container, aid)
            if found:
                item = found[0]
                if float(item.get("scoreMaximum", -1)) != maximum:
                    item = client.update_line_item(item, maximum)
            else:
                item = client.create_line_item(container, aid, maximum)
            current = client.results(item)
        except PassbackIncomplete as err:
            out += [Sent(aid, r["student_id"], r["score"], maximum, "failed", f"line item: {err}")
                    for r in mine]  # fmt: skip
            continue
        for r in mine:
            sid, score = r["student_id"], r["score"]
            lms = people.get(sid, {}).get("lms_user_id", "")
            if not lms:
                out.append(Sent(aid, sid, score, maximum, "no-lms-id",
                                "never launched from the LMS: no lms_user_id"))  # fmt: skip
                continue
            if r["needs_manual_grade"] and not include_pending:
                out.append(Sent(aid, sid, score, maximum, "held",
                                "hand grading pending (--include-pending sends it)"))  # fmt: skip
                continue
            before = current.get(lms)
            if before is not None and abs(before - score) < SAME_SCORE:
                out.append(Sent(aid, sid, score, maximum, "unchanged"))
                continue
            client.notes.clear()
            try:
                client.post_score(item, lms, score, maximum, r["submitted"])
            except PassbackIncomplete as err:
                out.append(Sent(aid, sid, score, maximum, "failed", str(err)))
                continue
            detail = f"was {before:g}" if before is not None else ""
            if client.notes:
                tries = "; ".join(client.notes)
                detail = (detail + "; " if detail else "") + f"retried after {tries}"
            out.append(Sent(aid, sid, score, maximum, "updated" if before is not None else "sent",
                            detail))  # fmt: skip
    return out


def format_report(sent: list[Sent]) -> str:
    lines = []
    for s in sent:
        lines.append(f"{s.assignment:<16} {s.student_id:<24} {s.score:>7g} / {s.max_score:<6g} "
                     f"{s.status}{'  (' + s.detail + ')' if s.detail else ''}")  # fmt: skip
    counts = {}
    for s in sent:
        counts[s.status] = counts.get(s.status, 0) + 1
    lines.append(", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "nothing to send")
    return "\n".join(lines)


def export_lti(course, settings=None, include_pending=False) -> str:
    """``export --format lti``: passback, the report printed and written to
    ``COURSE/lti_passback.txt``; returns its path. Raises :class:`PassbackIncomplete` (after
    writing the report) when some scores did not reach the platform."""
    try:
        import jwt  # noqa: F401
        import requests  # noqa: F401
    except ImportError as err:
        raise ValueError(f"export --format lti needs the hub's packages ({err.name} is missing): "
                         "pip install 'nncourse[hub]'") from None  # fmt: skip
    settings = load_settings(settings or Path(course.root) / "lti.json")
    sent = passback(course, settings, include_pending=include_pending)
    report = format_report(sent)
    print(report)
    path = Path(course.root) / REPORT_FILE
    path.write_text(report + "\n")
    failed = [s for s in sent if s.status == "failed"]
    if failed:
        raise PassbackIncomplete(
            f"{len(failed)} of {len(sent)} score(s) did not reach the LMS ({failed[0].detail}); "
            f"the report is in {path}; run `export --format lti` again to send them"
        )
    return str(path)


def main(argv=None) -> int:
    """``python -m autograder.term.lti new-key FOLDER [--kid KID]``: a key for the tool (rotation:
    add one, the newest signs; the JWKS the hub serves lists them all)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m autograder.term.lti", description=main.__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("new-key", help="write FOLDER/<kid>.pem, a new RSA key of the tool")
    p.add_argument("folder")
    p.add_argument("--kid", default=None, help="key id (default: the UTC time, sorts last)")
    args = parser.parse_args(argv)
    try:
        print(f"wrote {new_key(args.folder, args.kid)}")
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

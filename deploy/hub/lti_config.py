"""LTI 1.3 launches into the course hub: the LMS logs people in and fills the roster.

``jupyterhub_config.py`` calls :func:`configure` when ``NNCOURSE_LTI`` names the tool's
``lti.json`` (``autograder/term/lti.py`` describes it; docs/deploy.md, section 8, says what to paste
where in Canvas and Moodle). Login is JupyterHub's LTI authenticator from PyPI
(``jupyterhub-ltiauthenticator``: OIDC third-party login, the id_token verified against the
platform's JWKS for signature, issuer, audience, expiry and nonce) with what a course adds:

* only the registered deployments launch (``deployment_ids``), and an id_token is good for
  one launch (its nonce is remembered until it expires, so a replayed launch is refused);
* the hub user is the platform's stable user id (``sub``) or ``username_claim``; with real
  accounts (the hub as root) their local account is made at their first spawn;
* instructors and TAs join ``formgrade-<course>`` (formgrader), learners ``nbgrader-<course>``
  (the authenticator manages both groups), and each server gets its role's Jupyter settings;
* a learner's launch adds them to nbgrader's gradebook (name, e-mail, ``lms_user_id``) and
  every launch keeps the course's AGS endpoint for grade passback (``autograder.term.lti``);
* an instructor launched to the hub's front page lands in formgrader;
* ``/hub/lti13/jwks`` publishes the tool's public keys (the platform checks passback's signed
  requests with them); ``/hub/lti13/config`` is the authenticator's Canvas JSON.

A refused launch gets a page that says why (``LTI launch refused: ...``) and no session.
"""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import re
import subprocess
import time

from course_hub import ACCOUNT_COMMENT, COURSE_ID, foreign_accounts, user_env
from jupyterhub.handlers import BaseHandler
from jupyterhub.utils import url_path_join
from ltiauthenticator.lti13.auth import LTI13Authenticator
from ltiauthenticator.lti13.error import InvalidAudienceError, LoginError, ValidationError
from ltiauthenticator.lti13.handlers import LTI13CallbackHandler
from tornado.web import HTTPError
from traitlets import Dict, Set, Unicode

from autograder.term import lti

INSTRUCTORS = f"formgrade-{COURSE_ID}"
STUDENTS = f"nbgrader-{COURSE_ID}"


class CourseCallbackHandler(LTI13CallbackHandler):
    """The launch (the id_token the platform posts): the authenticator's checks, then the
    deployment and one use per nonce; every refusal names its reason."""

    def decode_and_validate_launch_request(self):
        try:
            token = super().decode_and_validate_launch_request()
        except InvalidAudienceError as err:
            ours = sorted(self.authenticator.client_id)
            raise HTTPError(
                401, f"LTI launch refused: wrong audience ({err}); this hub is client id {ours}"
            ) from None
        except ValidationError as err:
            raise HTTPError(400, f"LTI launch refused: {err}") from None
        except HTTPError as err:  # state or nonce cookie missing or not matching
            raise HTTPError(err.status_code, f"LTI launch refused: {err.log_message}") from None
        deployment = token.get(lti.DEPLOYMENT_CLAIM)
        if deployment not in self.authenticator.deployment_ids:
            ours = sorted(self.authenticator.deployment_ids)
            raise HTTPError(
                403,
                f"LTI launch refused: unknown deployment {deployment!r}; accepted: {ours}",
            )
        self.authenticator.use_nonce(token)
        return token

    def get_next_url(self, user=None):
        """Where the launch lands: the link's target; instructors sent to the hub's front
        page (the tool's plain link) go to formgrader instead of a server of their own."""
        url = super().get_next_url(user)
        front = {"/", self.base_url, self.hub.base_url, url_path_join(self.base_url, "hub")}
        staff = user is not None and INSTRUCTORS in {g.name for g in user.groups}
        if staff and url.split("?")[0].rstrip("/") + "/" in {f.rstrip("/") + "/" for f in front}:
            return url_path_join(self.base_url, "services", COURSE_ID, "formgrader")
        return url


class JWKSHandler(BaseHandler):
    """The tool's public keys (every key in the key folder: old and new during a rotation)."""

    def check_xsrf_cookie(self):
        return

    async def get(self):
        self.set_header("Content-Type", "application/json")
        self.write(json.dumps(lti.jwks(self.authenticator.tool_keys)))


class CourseLTIAuthenticator(LTI13Authenticator):
    """LTI13Authenticator for one nbgrader course (see the module's docstring)."""

    callback_handler = CourseCallbackHandler
    deployment_ids = Set(Unicode(), config=True, help="deployment ids allowed to launch")
    course_dir = Unicode(config=True, help="nbgrader's course folder (the gradebook)")
    tool_keys = Unicode(config=True, help="folder of the tool's private keys (*.pem)")
    used_nonces = Dict()  # nonce -> expiry of its id_token

    def get_handlers(self, app):
        return [*super().get_handlers(app), (r"/lti13/jwks", JWKSHandler)]

    def use_nonce(self, token: dict) -> None:
        """Accept each id_token's nonce once (until the token expires)."""
        now = time.time()
        for nonce, expiry in list(self.used_nonces.items()):
            if expiry < now:
                del self.used_nonces[nonce]
        nonce = token.get("nonce")
        if nonce in self.used_nonces:
            raise HTTPError(400, "LTI launch refused: replayed launch (this id_token's nonce "
                                 "was used already)")  # fmt: skip
        self.used_nonces[nonce] = float(token.get("exp", now + 600))

    async def authenticate(self, handler, data=None):
        role = lti.course_role((data or {}).get(lti.ROLES_CLAIM))
        if role is None:
            raise LoginError(
                f"LTI launch refused: no course role in {data.get(lti.ROLES_CLAIM)!r} "
                "(expected Instructor, TeachingAssistant or Learner)"
            )
        model = await super().authenticate(handler, data)
        model["name"] = self.normalize_username(model["name"])
        model["groups"] = [INSTRUCTORS if role == "instructor" else STUDENTS]
        model["auth_state"] = None  # the id_token is not kept
        await asyncio.to_thread(lti.record_launch, self.course_dir, data, model["name"])
        return model


ACCOUNT_NAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}")  # what useradd takes


def ensure_account(hub, name: str) -> None:
    """Real accounts: the local account of a user the LMS launched, made at their first
    spawn like ``course_hub.create_accounts`` makes the others (home ``<hub>/home/<name>``,
    0700, no login shell, marked so that ``remove_accounts`` may remove it) but with no
    password: nobody logs in to it but through the hub. An account of the machine that the
    hub did not make is refused: a launch must never run a server as a real person."""
    if foreign_accounts([name]):
        raise ValueError(
            f"lti_config: the hub user {name!r} is an account of this machine that the hub "
            "did not create; refusing to run a server as it (set username_claim in lti.json "
            "to a claim whose values are not local account names)"
        )
    try:
        pwd.getpwnam(name)
        return
    except KeyError:
        pass
    if not ACCOUNT_NAME.fullmatch(name):
        raise ValueError(
            f"lti_config: the hub user {name!r} cannot be a local account (lower-case letters, "
            "digits, '-' and '_', at most 32, not starting with a digit): set username_claim "
            "in lti.json to a claim that can (docs/deploy.md, section 8)"
        )
    home = hub.home(name)
    subprocess.run(["useradd", "--create-home", "--home-dir", str(home), "--user-group",
                    "--shell", "/usr/sbin/nologin", "--comment", ACCOUNT_COMMENT, name],
                   check=True, capture_output=True)  # fmt: skip
    entry = pwd.getpwnam(name)
    for folder in (home, home / ".tmp"):
        folder.mkdir(exist_ok=True)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
        folder.chmod(0o700)


def spawner_class(base):
    """The course's spawner, each server with its role's settings read from the user's group
    (LTI users are not in hub.json's lists) and, with real accounts, its account made first."""

    class LTISpawner(base):
        async def start(self):
            if self._course_hub.accounts:
                await asyncio.to_thread(ensure_account, self._course_hub, self.user.name)
            return await super().start()

        def get_env(self):
            env = super().get_env()
            role = "instructor" if INSTRUCTORS in {g.name for g in self.user.groups} else "student"
            env.update(user_env(self._course_hub, self.user.name, role))
            return env

    return LTISpawner


def configure(c, hub, settings_path) -> lti.ToolSettings:
    """Make the hub configuration ``c`` accept LTI 1.3 launches (in place of passwords)."""
    settings = lti.load_settings(settings_path)
    lti.load_keys(settings.key_folder)  # refuse to start without a key to publish
    c.JupyterHub.authenticator_class = CourseLTIAuthenticator
    c.LTI13Authenticator.issuer = settings.issuer
    c.LTI13Authenticator.client_id = {settings.client_id}
    c.LTI13Authenticator.authorize_url = settings.authorize_url
    c.LTI13Authenticator.jwks_endpoint = settings.jwks_url
    c.LTI13Authenticator.username_key = settings.username_claim
    c.CourseLTIAuthenticator.deployment_ids = set(settings.deployment_ids)
    c.CourseLTIAuthenticator.course_dir = str(hub.course_dir)
    c.CourseLTIAuthenticator.tool_keys = str(settings.key_folder)
    # the platform vouches for everyone it launches; it also says who teaches
    c.Authenticator.allowed_users = set()
    c.Authenticator.allow_all = True
    c.Authenticator.manage_groups = True
    c.JupyterHub.load_groups = {}
    public = os.environ.get("NNCOURSE_PUBLIC_URL", "")
    if public:  # the address the LMS knows the hub by (behind an HTTPS proxy)
        c.JupyterHub.public_url = public
    if public.startswith("https://"):
        # the LMS posts the launch from its own site: the login's state and nonce cookies
        # come back with that cross-site POST only if SameSite=None (which needs Secure)
        tornado = dict(c.JupyterHub.get("tornado_settings", {}))
        tornado["cookie_options"] = {"samesite": "None", "secure": True}
        c.JupyterHub.tornado_settings = tornado
    base = c.JupyterHub.spawner_class
    spawner = spawner_class(base)
    spawner._course_hub = hub
    c.JupyterHub.spawner_class = spawner
    return settings

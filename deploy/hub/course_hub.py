"""The demo course on JupyterHub: settings, accounts, release, and how servers are started.

``jupyterhub_config.py`` reads a :class:`HubSettings` file (``<hub folder>/hub.json``) and
uses the helpers here; ``demo.py`` (``make hub``) and ``tests/test_hub.py`` write that file,
create the accounts, release the course and start ``jupyterhub``.

Two modes:

``accounts`` (root only) every user is a real local account (``useradd``), so students are
             isolated by the operating system: each home is 0700, the exchange's inbound
             folder is write-only for students, single-user servers run as their user.
``one-account`` every user runs under the account that started the hub
             (``SimpleLocalProcessSpawner``): nothing separates students' files. For trying
             the course out only.

Roles: the course id (``nncourse``) names the nbgrader course, the exchange folder, the
JupyterHub service that runs formgrader, and the groups ``formgrade-nncourse``
(instructors and TAs: the only ones who reach the service, which runs as the grader
account and whose root is the course folder) and ``nbgrader-nncourse`` (students).
"""

from __future__ import annotations

import dataclasses
import json
import os
import pwd
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

from autograder.course import COURSE_ID  # the id of autograder's course directories

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PROXY = HERE / "node_modules" / ".bin" / "configurable-http-proxy"
CONFIG_DIRS = HERE / "jupyter"  # per-role Jupyter config (nbgrader extensions, exchange)
BIN = Path(sys.executable).parent


@dataclasses.dataclass
class HubSettings:
    """Everything ``jupyterhub_config.py`` needs; saved as JSON in the hub folder."""

    hub_dir: str
    instructors: list[str]
    students: list[str]
    password: str
    accounts: bool  # real local accounts (root) or every user under one account
    grader: str = f"grader-{COURSE_ID}"
    ip: str = "127.0.0.1"
    port: int = 8000
    hub_port: int = 8081  # the hub's own API, 127.0.0.1 only
    proxy_api_port: int = 8001
    service_port: int = 8002  # the course's formgrader service, 127.0.0.1 only

    def __post_init__(self):
        names = [self.grader, *self.instructors, *self.students]
        if len(set(names)) != len(names):
            raise ValueError(f"HubSettings: user names must be distinct, got {names}")
        for name in names:
            if not name.replace("-", "").replace("_", "").isalnum() or not name[0].isalpha():
                raise ValueError(
                    f"HubSettings: user names are letters, digits, '-' and '_' and start "
                    f"with a letter; got {name!r}"
                )
        if not isinstance(self.accounts, bool):
            raise TypeError(f"HubSettings: accounts must be a bool, got {self.accounts!r}")

    @property
    def root(self) -> Path:
        return Path(self.hub_dir)

    @property
    def exchange(self) -> Path:
        """nbgrader's exchange: ``<exchange>/<course id>/{outbound,inbound,feedback}``."""
        return self.root / "exchange"

    @property
    def users(self) -> list[str]:
        return [*self.instructors, *self.students]

    def home(self, name: str) -> Path:
        return self.root / "home" / name

    @property
    def course_dir(self) -> Path:
        """The instructors' course folder (nbgrader's course root), in the grader's home."""
        return self.home(self.grader) / COURSE_ID

    def save(self) -> Path:
        path = self.root / "hub.json"
        path.write_text(json.dumps(dataclasses.asdict(self), indent=1))
        return path

    @classmethod
    def load(cls, path) -> HubSettings:
        return cls(**json.loads(Path(path).read_text()))


# ---------------------------------------------------------------- accounts and commands


ACCOUNT_COMMENT = "nncourse hub demo"  # the GECOS field of the accounts created here


def foreign_accounts(names) -> list[str]:
    """Those of ``names`` that exist already and were not created by :func:`create_accounts`
    (a real person's account, which the hub must never touch)."""
    foreign = []
    for name in names:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_gecos != ACCOUNT_COMMENT:
            foreign.append(name)
    return foreign


def create_accounts(hub: HubSettings, passwords: dict[str, str] | None = None) -> None:
    """Real local accounts (root only) with homes under the hub folder, mode 0700.

    ``passwords`` maps each user to a password (default: ``hub.password`` for all); the
    grader account has none. Accounts get no login shell (JupyterLab's terminal starts bash
    itself) and are marked with :data:`ACCOUNT_COMMENT`; an existing account without that mark
    is refused.
    """
    if os.geteuid() != 0:
        raise PermissionError("create_accounts: creating local accounts needs root")
    names = [hub.grader, *hub.users]
    if foreign := foreign_accounts(names):
        raise ValueError(
            f"create_accounts: {', '.join(foreign)} already exist(s) as account(s) of this "
            "machine; the hub creates and removes its own accounts only: choose other names"
        )
    (hub.root / "home").mkdir(mode=0o755, exist_ok=True)
    for name in names:
        try:
            pwd.getpwnam(name)
        except KeyError:
            subprocess.run(
                ["useradd", "--create-home", "--home-dir", str(hub.home(name)),
                 "--user-group", "--shell", "/usr/sbin/nologin",
                 "--comment", ACCOUNT_COMMENT, name],
                check=True,
            )  # fmt: skip
        if name != hub.grader:  # the grader account has no password: reached via the service
            password = (passwords or {}).get(name, hub.password)
            subprocess.run(["chpasswd"], input=f"{name}:{password}\n", text=True, check=True)
        entry = pwd.getpwnam(name)
        for folder in (hub.home(name), hub.home(name) / ".tmp"):
            folder.mkdir(exist_ok=True)
            os.chown(folder, entry.pw_uid, entry.pw_gid)
            folder.chmod(0o700)


def _made_here(names) -> list:
    """The password entries of the accounts among ``names`` that :func:`create_accounts`
    made (marked by their comment); unknown names and other accounts are left out."""
    entries = []
    for name in names:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_gecos == ACCOUNT_COMMENT:
            entries.append(entry)
    return entries


def remove_accounts(names) -> None:
    """Delete the accounts :func:`create_accounts` made (and their user groups), never
    another; homes are left to the caller."""
    for entry in _made_here(names):
        subprocess.run(["userdel", entry.pw_name], check=False, capture_output=True)


def end_accounts(names) -> None:
    """Stop every process of the accounts :func:`create_accounts` made among ``names``
    (servers, kernels, terminals the hub did not stop), then delete those accounts."""
    uids = {entry.pw_uid for entry in _made_here(names)}
    for _ in range(2):  # a process may fork while we kill
        for pid in pids_of(uids):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.2)
    remove_accounts(names)


def pids_of(uids) -> list[int]:
    """Processes running as any of ``uids`` (to stop what the accounts left running)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid in uids:
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


def make_homes(hub: HubSettings) -> None:
    """One-account mode: plain folders under the hub folder."""
    for name in [hub.grader, *hub.users]:
        (hub.home(name) / ".tmp").mkdir(parents=True, exist_ok=True)


def hidden_ancestors(paths) -> dict[Path, list[Path]]:
    """Folders other accounts cannot traverse (no o+x) above the paths a server needs.

    Maps each such folder to the needed paths under it. Empty on a normal installation
    (a Python in /usr or /opt); not empty when, say, the Python lives in root's 0700 home.
    """
    hidden: dict[Path, list[Path]] = {}
    for path in paths:
        path = Path(path)
        for parent in reversed([path, *path.parents]):
            if parent.exists() and not os.stat(parent).st_mode & stat.S_IXOTH:
                hidden.setdefault(parent, []).append(path)
                break
    return hidden


def needed_paths() -> list[Path]:
    """What a user's server reads: the Python installation, the virtualenv, the repository."""
    return sorted({Path(os.path.realpath(sys.base_prefix)), Path(sys.prefix), REPO})


def as_user(hub: HubSettings, name: str) -> list[str]:
    """argv prefix that runs a command as local account ``name`` (called as root).

    ``setpriv`` drops to the account. When the Python environment sits below a folder
    other accounts cannot enter (``/root`` on some machines), the command first gets its
    own mount namespace (bubblewrap) where that folder is an empty tmpfs with only the
    needed paths bound in, read-only; a new PID namespace makes sure every process of the
    server ends with it. Empty in one-account mode.
    """
    if not hub.accounts:
        return []
    entry = pwd.getpwnam(name)
    drop = ["setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--init-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--"]  # fmt: skip
    hidden = hidden_ancestors(needed_paths())
    if any(root == hub.root or root in hub.root.parents for root in hidden):
        raise ValueError(
            f"as_user: the hub folder {hub.root} is below a folder other accounts cannot "
            f"enter ({', '.join(map(str, hidden))}); choose one every account can reach"
        )
    if not hidden:
        return drop
    wrap = ["bwrap", "--dev-bind", "/", "/", "--proc", "/proc", "--unshare-pid",
            "--die-with-parent"]  # fmt: skip
    for root, inside in sorted(hidden.items()):
        wrap += ["--perms", "0755", "--tmpfs", str(root)]
        made = set()
        for path in inside:  # folders between the tmpfs and the bind: enterable by all
            for parent in reversed(path.relative_to(root).parents[:-1]):
                if parent not in made:
                    wrap += ["--perms", "0755", "--dir", str(root / parent)]
                    made.add(parent)
            wrap += ["--ro-bind", str(path), str(path)]
    return wrap + drop


def user_env(hub: HubSettings, name: str, role: str) -> dict[str, str]:
    """Environment of a user's server (and of nbgrader commands run for them)."""
    env = {
        "PATH": f"{BIN}{os.pathsep}/usr/local/bin:/usr/bin:/bin",
        "HOME": str(hub.home(name)),
        "USER": name,
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "NNCOURSE_EXCHANGE": str(hub.exchange),
        "NNCOURSE_COURSE_ID": COURSE_ID,
        # nbgrader reads nbgrader_config.py and Jupyter its settings from these folders
        "JUPYTER_CONFIG_PATH": os.pathsep.join(
            str(CONFIG_DIRS / d) for d in (role, "common") if (CONFIG_DIRS / d).is_dir()
        ),
        "JUPYTER_DATA_DIR": str(hub.home(name) / ".local" / "share" / "jupyter"),
        "JUPYTER_RUNTIME_DIR": str(hub.home(name) / ".local" / "share" / "jupyter" / "runtime"),
        "IPYTHONDIR": str(hub.home(name) / ".ipython"),
        "TMPDIR": str(hub.home(name) / ".tmp"),  # temporary files in the home, not in /tmp
    }
    return env


def role_of(hub: HubSettings, name: str) -> str:
    if name == hub.grader:
        return "grader"
    return "instructor" if name in hub.instructors else "student"


def run_as(hub: HubSettings, name: str, argv, cwd=None, timeout=600, check=True):
    """Run ``argv`` as account ``name`` (or as this account in one-account mode)."""
    env = user_env(hub, name, role_of(hub, name))
    if not hub.accounts:
        env = {**os.environ, **env}
    return subprocess.run(
        [*as_user(hub, name), *argv],
        cwd=str(cwd or hub.home(name)),
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
    )


# ---------------------------------------------------------------- the course

WELCOME = "WELCOME.md"  # in every student's home; their JupyterLab opens on it
WELCOME_TEXT = f"""\
# Welcome to the course {COURSE_ID}

Your assignments are in the **Assignments tab**: open the menu **Nbgrader > Assignment List**.

1. Under *Released assignments*, click **Fetch** next to an assignment. It moves to
   *Downloaded assignments*: click its notebook there to open it. (The file browser on the
   left shows the new folder at its next refresh; its Refresh button shows it at once.)
2. Open the notebook, fill in every cell marked `YOUR CODE HERE`, run the tests under each
   exercise. **Validate** (in the notebook's toolbar or the tab) checks the whole notebook.
3. Back in the Assignments tab, click **Submit**. You can submit again until the deadline; the
   last submission counts. After grading, **Fetch Feedback** shows your results.
"""


def prepare(hub: HubSettings, passwords: dict[str, str] | None = None) -> None:
    """Hub folder, accounts or homes, and the exchange (mode 0777 as nbgrader expects)."""
    hub.root.mkdir(parents=True, exist_ok=True)
    hub.root.chmod(0o755)  # every account enters it to reach its home and the exchange
    if hub.accounts:
        create_accounts(hub, passwords)
    else:
        make_homes(hub)
    for name in hub.students:  # where a student lands: how to fetch an assignment
        home = hub.home(name)
        (home / WELCOME).write_text(WELCOME_TEXT)
        # JupyterLab shows Markdown files rendered (its default is the text editor)
        settings = home / ".jupyter/lab/user-settings/@jupyterlab/docmanager-extension"
        settings.mkdir(parents=True, exist_ok=True)
        viewers = settings / "plugin.jupyterlab-settings"
        if not viewers.exists():
            viewers.write_text(json.dumps({"defaultViewers": {"markdown": "Markdown Preview"}}))
        if hub.accounts:
            entry = pwd.getpwnam(name)
            for path in [home / WELCOME, viewers, settings, *settings.parents]:
                if path == home:
                    break
                os.chown(path, entry.pw_uid, entry.pw_gid)
    hub.exchange.mkdir(exist_ok=True)
    hub.exchange.chmod(0o777)  # nbgrader creates <course id>/inbound (2733) etc. below it
    hub.save()


def release(hub: HubSettings, assignments) -> list[str]:
    """Release assignments to the students, as the grader account (see :func:`release_course`).

    Assignments already in the exchange are left alone. Returns those released now.
    """
    outbound = hub.exchange / COURSE_ID / "outbound"
    todo = [a for a in assignments if not (outbound / a).is_dir()]
    if todo:
        run_as(hub, hub.grader, [str(BIN / "python"), str(Path(__file__)), "release", *todo,
                                 "--course-dir", str(hub.course_dir)])  # fmt: skip
    return todo


def release_course(course_dir, assignments) -> None:
    """``python -m autograder release`` (student versions, answer keys), then nbgrader's
    ``release_assignment`` into the exchange named by the shared nbgrader config."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    from autograder.__main__ import main as autograder_main

    course_dir = Path(course_dir).resolve()
    code = autograder_main(["release", *assignments, "--course-dir", str(course_dir)])
    if code:
        raise RuntimeError(f"release_course: autograder release failed (exit status {code})")
    config = Config()
    config.CourseDirectory.root = str(course_dir)
    config.CourseDirectory.course_id = COURSE_ID
    config.CourseDirectory.db_url = f"sqlite:///{course_dir / 'gradebook.db'}"
    config.Exchange.root = os.environ.get("NNCOURSE_EXCHANGE", "/srv/nbgrader/exchange")
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    for aid in assignments:
        result = api.release_assignment(aid)
        if not result.get("success"):
            raise RuntimeError(f"release_course: nbgrader release_assignment {aid} failed:\n"
                               f"{result.get('error') or result.get('log')}")  # fmt: skip
        print(f"released {aid} to {config.Exchange.root}/{COURSE_ID}/outbound/{aid}")


def feedback(course_dir, assignment: str) -> int:
    """``python -m autograder feedback``; returns how many folders nbgrader can release.

    nbgrader's ``release_feedback`` reads ``timestamp.txt`` and ``submission_secret.txt``
    next to each page; ``autograder feedback`` copies both from ``submitted/``. Run it as
    the grader account, in the course folder.
    """
    from autograder.grading.pipeline import KEPT_FILES

    course_dir = Path(course_dir)
    subprocess.run(
        [str(BIN / "python"), "-m", "autograder", "feedback", assignment,
         "--course-dir", str(course_dir)],
        check=True, env=feedback_env(),
    )  # fmt: skip
    folders = sorted((course_dir / "feedback").glob(f"*/{assignment}"))
    return sum(all((f / n).is_file() for n in KEPT_FILES) for f in folders)


def feedback_env(environ=None) -> dict:
    """The environment of ``autograder feedback`` on the hub: MathJax (for the pages' math)
    from the hub's own ``node_modules``, installed with the proxy by ``npm ci``, so that the
    grader account never installs it at run time (its first page would wait on npm)."""
    from autograder.reporting import mathsvg

    env = dict(os.environ if environ is None else environ)
    if not env.get("AUTOGRADER_VENDOR") and (HERE / "node_modules" / mathsvg.MARKER).is_file():
        env["AUTOGRADER_VENDOR"] = str(HERE)
    return env


def main(argv=None) -> int:
    """The grader account's steps on the hub (run in the course's JupyterLab terminal):

    python deploy/hub/course_hub.py release ASSIGNMENT ... [--course-dir DIR]
    python deploy/hub/course_hub.py feedback ASSIGNMENT [--course-dir DIR]
    """
    import argparse

    parser = argparse.ArgumentParser(
        prog="course_hub.py", description=main.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("release", help="autograder release, then nbgrader release_assignment")
    p.add_argument("assignments", nargs="+")
    p.add_argument("--course-dir", default=".", help="the course folder (default: here)")
    p = sub.add_parser("feedback", help="feedback pages ready for nbgrader release_feedback")
    p.add_argument("assignment")
    p.add_argument("--course-dir", default=".", help="the course folder (default: here)")
    args = parser.parse_args(argv)
    if args.command == "release":
        release_course(args.course_dir, args.assignments)
        return 0
    ready = feedback(args.course_dir, args.assignment)
    print(
        f"{ready} feedback folder(s) ready: release them with formgrader's 'Release "
        f"feedback' or `nbgrader release_feedback {args.assignment}`"
    )
    return 0


# ---------------------------------------------------------------- servers


def singleuser_cmd(hub: HubSettings) -> list[str]:
    cmd = [str(BIN / "jupyterhub-singleuser")]
    if not hub.accounts and os.geteuid() == 0:  # one account, and that account is root
        cmd.append("--allow-root")
    return cmd


def stop_proxy(hub: HubSettings) -> None:
    """Stop the proxy the hub started if it outlived the hub (a hub that crashed)."""
    pid_file = hub.root / "proxy.pid"
    try:
        pid = int(pid_file.read_text().strip())
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            if b"configurable-http-proxy" in fh.read():
                os.kill(pid, signal.SIGTERM)
    except (OSError, ValueError):
        pass


def service(hub: HubSettings) -> dict:
    """The course's formgrader: a JupyterLab server, as the grader account, on the course."""
    env = user_env(hub, hub.grader, "grader")
    env["JUPYTERHUB_DEFAULT_URL"] = "/formgrader"
    return {
        "name": COURSE_ID,
        "url": f"http://127.0.0.1:{hub.service_port}",
        "command": [*as_user(hub, hub.grader), *singleuser_cmd(hub)],
        "cwd": str(hub.course_dir),  # nbgrader_config.py of the course sits here
        "environment": env,
        "oauth_no_confirm": True,
    }


def spawner_class(hub: HubSettings):
    """LocalProcessSpawner for real accounts (dropped by :func:`as_user`), else one account."""
    from jupyterhub.spawner import LocalProcessSpawner, SimpleLocalProcessSpawner

    class Env:  # every server: the course's environment for its role
        def get_env(self):
            env = super().get_env()
            env.update(user_env(hub, self.user.name, role_of(hub, self.user.name)))
            return env

        async def start(self):
            if role_of(hub, self.user.name) == "student":  # lands on how to fetch
                self.default_url = f"/lab/tree/{WELCOME}"
            return await super().start()

    if not hub.accounts:

        class OneAccountSpawner(Env, SimpleLocalProcessSpawner):
            """Every server under the hub's own account: for trying the course out only."""

            async def start(self):
                self.cmd = singleuser_cmd(hub)
                return await super().start()

        return OneAccountSpawner

    class CourseSpawner(Env, LocalProcessSpawner):
        """Each server as its local account; see :func:`as_user` for how it is started."""

        async def start(self):
            self.cmd = [*as_user(hub, self.user.name), *singleuser_cmd(hub)]
            return await super().start()

        def make_preexec_fn(self, name):  # setpriv in the command drops privileges
            home = str(hub.home(name))
            return lambda: os.chdir(home)

    return CourseSpawner


def users_summary(hub: HubSettings) -> str:
    lines = [f"  instructor  {n}" for n in hub.instructors]
    lines += [f"  student     {n}" for n in hub.students]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

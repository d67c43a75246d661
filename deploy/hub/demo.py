"""``make hub``: the demo course on JupyterHub at http://127.0.0.1:PORT.

By default every user (an instructor, three students) runs under this one account, for
trying the course out: nothing is created outside the hub folder. ``--accounts`` (root
only) makes each user a real local account instead, so the operating system keeps students
apart; those accounts get random passwords, printed once, and are removed with their homes
and the exchange when the hub stops (Ctrl-C, SIGTERM or the hub's own end).

The course is released as the grader account (``python -m autograder release``, then
nbgrader's ``release_assignment``), then ``jupyterhub`` runs until Ctrl-C.

    python deploy/hub/demo.py [--hub-dir .hub] [--port 8000] [--assignments 01_perceptron ...|all]
                              [--accounts]
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import course_hub as ch  # noqa: E402

INSTRUCTOR = "instructor"
STUDENTS = ["student1", "student2", "student3"]
DEFAULT_ASSIGNMENTS = ["01_perceptron"]
STOP_TIMEOUT = 60  # seconds the hub gets to stop its servers before it is killed


class Stop(Exception):
    """SIGTERM or SIGHUP: stop the hub and clean up, as on Ctrl-C."""


def _raise_stop(signum, frame):
    raise Stop(signal.Signals(signum).name)


def all_assignments() -> list[str]:
    return sorted(
        p.name
        for p in (ch.REPO / "notebooks").iterdir()
        if p.is_dir() and re.fullmatch(r"\d\d_\w+", p.name)
    )


def parse(argv):
    parser = argparse.ArgumentParser(prog="make hub", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--hub-dir",
        default=None,
        help="state, homes and exchange (default: .hub in the repository, or a new "
        "/srv/nncourse-hub-* with --accounts when other accounts cannot enter the repository)",
    )
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--assignments",
        nargs="+",
        default=DEFAULT_ASSIGNMENTS,
        metavar="ASSIGNMENT",
        help=f"assignments to release, about a minute each (default: "
        f"{' '.join(DEFAULT_ASSIGNMENTS)}; 'all' for every NN_name folder of notebooks/)",
    )
    parser.add_argument(
        "--accounts",
        action="store_true",
        help="root only: a real local account per user (random passwords, printed once), "
        "removed with its home and the exchange when the hub stops",
    )
    args = parser.parse_args(argv)
    known = all_assignments()
    if args.assignments == ["all"]:
        args.assignments = known
    unknown = [a for a in args.assignments if a not in known]
    if unknown:
        parser.error(f"--assignments: expected some of {', '.join(known)} or 'all'; got {unknown}")
    return args


def settings(args) -> tuple[ch.HubSettings, dict[str, str]]:
    """The hub's settings and each user's password (random for every run)."""
    users = [INSTRUCTOR, *STUDENTS]
    if args.accounts:
        passwords = {name: secrets.token_urlsafe(9) for name in users}
        shared = ""  # PAM checks each account's own password
    else:
        shared = secrets.token_urlsafe(9)
        passwords = dict.fromkeys(users, shared)
    hub_dir = args.hub_dir
    if hub_dir is None:
        hub_dir = ch.REPO / ".hub"
        if args.accounts:
            hub_dir = ch.REPO / ".hub-accounts"
            if ch.hidden_ancestors([hub_dir]):  # every account must reach its home
                hub_dir = Path("/srv") / f"nncourse-hub-{secrets.token_hex(3)}"
    hub = ch.HubSettings(
        hub_dir=str(Path(hub_dir).resolve()),
        instructors=[INSTRUCTOR],
        students=STUDENTS,
        password=shared,
        accounts=args.accounts,
        port=args.port,
        hub_port=args.port + 81,
        proxy_api_port=args.port + 1,
        service_port=args.port + 2,
    )
    return hub, passwords


def remove_demo(hub: ch.HubSettings, created_root: bool) -> list[str]:
    """Undo what ``--accounts`` set up: the accounts' processes, the accounts, their homes,
    the exchange and the hub's state. Returns what could not be removed."""
    import pwd

    names = [hub.grader, *hub.users]
    ch.end_accounts(names)
    for path in [*(hub.home(n) for n in names), hub.exchange]:
        shutil.rmtree(path, ignore_errors=True)
    for name in ("hub.json", "jupyterhub.sqlite", "jupyterhub_cookie_secret", "proxy.pid",
                 "jupyterhub.pid"):  # fmt: skip
        (hub.root / name).unlink(missing_ok=True)
    for folder in [hub.root / "home", hub.root] if created_root else [hub.root / "home"]:
        try:
            folder.rmdir()
        except OSError:
            pass
    left = [n for n in names if n in {e.pw_name for e in pwd.getpwall()}]
    left += [str(p) for p in (*(hub.home(n) for n in names), hub.exchange) if p.exists()]
    return left


def run_hub(hub: ch.HubSettings) -> int:
    """``jupyterhub`` until it ends, Ctrl-C, SIGTERM or SIGHUP; then it stops its servers."""
    env = dict(os.environ, NNCOURSE_HUB=str(hub.save()))
    env["PATH"] = f"{ch.BIN}{os.pathsep}{env.get('PATH', '')}"
    cmd = [str(ch.BIN / "jupyterhub"), "-f", str(ch.HERE / "jupyterhub_config.py")]
    # its own session: a terminal's Ctrl-C reaches this process only, which asks the hub
    # once to stop (SIGTERM); a Ctrl-C in the whole group would also hit the proxy and the
    # hub's cleanup would then fail on a proxy that is already gone
    proc = subprocess.Popen(cmd, cwd=str(hub.root), env=env, start_new_session=True)
    try:
        return proc.wait()
    except (KeyboardInterrupt, Stop):
        print("\nmake hub: stopping the hub and every server ...", flush=True)
        proc.terminate()
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        return 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        ch.stop_proxy(hub)


def main(argv=None) -> int:
    args = parse(argv)
    if not ch.PROXY.exists():
        print(
            f"make hub: {ch.PROXY} is missing; install JupyterHub's proxy with "
            f"`npm ci --prefix {ch.HERE}` (Node.js and npm needed)",
            file=sys.stderr,
        )
        return 2
    if args.accounts and (os.geteuid() != 0 or shutil.which("useradd") is None):
        print("make hub: --accounts (HUB_ACCOUNTS=1) creates local accounts: run it as root "
              "on a machine with useradd", file=sys.stderr)  # fmt: skip
        return 2
    hub, passwords = settings(args)
    if args.accounts:
        if foreign := ch.foreign_accounts([hub.grader, *hub.users]):
            print(f"make hub: {', '.join(foreign)} already exist(s) on this machine and "
                  "were not made by make hub; it will not touch them", file=sys.stderr)  # fmt: skip
            return 2
        try:
            ch.as_user(hub, "root")  # refuses a hub folder other accounts cannot reach
        except ValueError as err:
            print(f"make hub: {err} (--hub-dir)", file=sys.stderr)
            return 2
        print(
            "make hub: a real local account per user (homes under "
            f"{hub.root}/home, mode 0700): students are isolated by the OS. The accounts, "
            "their homes and the exchange are removed when the hub stops."
        )
    else:
        print(
            f"make hub: every user runs under this one account (uid {os.getuid()}), so "
            "students could read each other's files: for trying the course out only. As root, "
            "HUB_ACCOUNTS=1 makes real accounts (removed at the end)."
        )
    created_root = not hub.root.exists()
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_stop)
    try:
        ch.prepare(hub, passwords)
        print(f"make hub: releasing {' '.join(args.assignments)} (about a minute each) ...",
              flush=True)  # fmt: skip
        try:
            released = ch.release(hub, args.assignments)
        except subprocess.CalledProcessError as err:
            print(f"make hub: release failed:\n{err.stdout}\n{err.stderr}", file=sys.stderr)
            return 1
        print(f"make hub: released now: {' '.join(released) or 'nothing (already released)'}")
        logins = "\n".join(
            f"  {('instructor' if n in hub.instructors else 'student'):<10}  {n:<10}  "
            f"password {passwords[n]}"
            for n in hub.users
        )
        print(
            f"\nJupyterHub for course {ch.COURSE_ID!r}: http://{hub.ip}:{hub.port}/\n{logins}\n"
            "(passwords are new each run and shown only here)\n"
            f"The instructor grades at http://{hub.ip}:{hub.port}/services/{ch.COURSE_ID}/"
            f"formgrader (course folder {hub.course_dir}); students land on a page that points "
            "them to the Nbgrader > Assignment List tab.\n"
            "In the formgrader's JupyterLab (File > New > Terminal, in the course folder), "
            "after Collect:\n"
            f"  {ch.BIN / 'python'} -m autograder grade ASSIGNMENT --submissions submitted "
            "--course-dir .\n"
            f"  {ch.BIN / 'python'} {ch.HERE / 'course_hub.py'} feedback ASSIGNMENT\n"
            "then Release feedback in formgrader. Ctrl-C stops the hub and every server.\n",
            flush=True,
        )
        return run_hub(hub)
    except (KeyboardInterrupt, Stop):
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the clean-up runs to its end
        if args.accounts:
            left = remove_demo(hub, created_root)
            if left:
                print(f"make hub: could not remove {', '.join(left)}", file=sys.stderr)
            else:
                print("make hub: the demo's accounts, homes and exchange are removed")


if __name__ == "__main__":
    sys.exit(main())

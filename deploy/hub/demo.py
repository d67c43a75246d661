"""``make hub``: the demo course on JupyterHub at http://127.0.0.1:PORT.

Creates (as root) real local accounts for an instructor and three students, or (otherwise)
runs every user under this account, releases the course as the grader account
(``python -m autograder release``, then nbgrader's ``release_assignment``), prints who can
log in with which password and runs ``jupyterhub`` until Ctrl-C.

    python deploy/hub/demo.py [--hub-dir .hub] [--port 8000] [--assignments 01_perceptron ...]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import course_hub as ch  # noqa: E402

INSTRUCTOR = "instructor"
STUDENTS = ["student1", "student2", "student3"]
PASSWORD = "nncourse-demo"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="make hub", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--hub-dir",
        default=None,
        help="state, homes and exchange (default: .hub in the repository, or "
        "/srv/nncourse-hub for real accounts when other accounts cannot enter the repository)",
    )
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--assignments",
        nargs="*",
        default=sorted(
            p.name
            for p in (ch.REPO / "notebooks").iterdir()
            if p.is_dir() and re.fullmatch(r"\d\d_\w+", p.name)
        ),
        help="assignments to release (default: every NN_name folder of notebooks/)",
    )
    parser.add_argument(
        "--one-account",
        action="store_true",
        help="run every user under this account even as root (no isolation)",
    )
    args = parser.parse_args(argv)
    if not ch.PROXY.exists():
        print(
            f"make hub: {ch.PROXY} is missing; install JupyterHub's proxy with "
            f"`npm ci --prefix {ch.HERE}` (Node.js and npm needed)",
            file=sys.stderr,
        )
        return 2
    accounts = os.geteuid() == 0 and not args.one_account and shutil.which("useradd") is not None
    if args.hub_dir is None:
        args.hub_dir = ch.REPO / ".hub"
        if accounts and ch.hidden_ancestors([args.hub_dir]):
            args.hub_dir = Path("/srv/nncourse-hub")  # every account must reach its home
    hub = ch.HubSettings(
        hub_dir=str(Path(args.hub_dir).resolve()),
        instructors=[INSTRUCTOR],
        students=STUDENTS,
        password=PASSWORD,
        accounts=accounts,
        port=args.port,
        hub_port=args.port + 81,
        proxy_api_port=args.port + 1,
        service_port=args.port + 2,
    )
    if accounts:
        print(
            "make hub: running as root, so every user is a real local account "
            f"(homes under {hub.root}/home, mode 0700): students are isolated by the OS."
        )
    else:
        print(
            "make hub: every user runs under this one account "
            f"(uid {os.getuid()}): students can read each other's "
            "files. For trying the course out only; as root `make hub` creates real accounts."
        )
    if accounts:
        try:
            ch.as_user(hub, "root")  # refuses a hub folder other accounts cannot reach
        except ValueError as err:
            print(f"make hub: {err} (--hub-dir)", file=sys.stderr)
            return 2
    ch.prepare(hub)
    print(f"make hub: releasing {' '.join(args.assignments)} (answer keys are built once) ...")
    try:
        released = ch.release(hub, args.assignments)
    except subprocess.CalledProcessError as err:
        print(f"make hub: release failed:\n{err.stdout}\n{err.stderr}", file=sys.stderr)
        return 1
    print(f"make hub: released now: {' '.join(released) or 'nothing (already released)'}")
    print(
        f"\nJupyterHub for course {ch.COURSE_ID!r}: http://{hub.ip}:{hub.port}/\n"
        f"password for every account: {hub.password}\n{ch.users_summary(hub)}\n"
        f"The instructor grades at http://{hub.ip}:{hub.port}/services/{ch.COURSE_ID}/formgrader"
        f" (course folder {hub.course_dir}); students use the Nbgrader > Assignment List tab.\n"
        "In the formgrader's JupyterLab (File > New > Terminal, in the course folder), after\n"
        "Collect:\n"
        f"  {ch.BIN / 'python'} -m autograder grade ASSIGNMENT --submissions submitted "
        "--course-dir .\n"
        f"  {ch.BIN / 'python'} {ch.HERE / 'course_hub.py'} feedback ASSIGNMENT\n"
        "then Release feedback in formgrader. Ctrl-C stops the hub and every server.\n",
        flush=True,
    )
    env = dict(os.environ, NNCOURSE_HUB=str(hub.save()))
    env["PATH"] = f"{ch.BIN}{os.pathsep}{env.get('PATH', '')}"
    cmd = [str(ch.BIN / "jupyterhub"), "-f", str(ch.HERE / "jupyterhub_config.py")]
    proc = subprocess.Popen(cmd, cwd=str(hub.root), env=env)
    try:
        return proc.wait()
    except KeyboardInterrupt:  # the hub got Ctrl-C too and stops its servers
        return proc.wait(timeout=90)
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=90)
        ch.stop_proxy(hub)


if __name__ == "__main__":
    sys.exit(main())

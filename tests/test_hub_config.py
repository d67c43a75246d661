"""deploy/hub without a running hub: settings, the configuration JupyterHub loads, wrappers.

The whole loop on a real hub is tests/test_hub.py; these checks are fast and need neither
Chromium nor Node.js.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "deploy" / "hub"))
import course_hub as ch  # noqa: E402


def settings(tmp_path, **kw):
    args = dict(
        hub_dir=str(tmp_path),
        instructors=["teach"],
        students=["ann", "bob"],
        password="pw",
        accounts=False,
    )
    args.update(kw)
    return ch.HubSettings(**args)


def load_config(hub: ch.HubSettings):
    """What ``jupyterhub -f deploy/hub/jupyterhub_config.py`` would configure."""
    from traitlets.config.loader import PyFileConfigLoader

    path = hub.save()
    old = os.environ.get("NNCOURSE_HUB")
    os.environ["NNCOURSE_HUB"] = str(path)
    try:
        return PyFileConfigLoader("jupyterhub_config.py", path=str(ch.HERE)).load_config()
    finally:
        if old is None:
            del os.environ["NNCOURSE_HUB"]
        else:
            os.environ["NNCOURSE_HUB"] = old


def test_settings_reject_bad_names_and_modes(tmp_path):
    with pytest.raises(ValueError, match="distinct"):
        settings(tmp_path, students=["ann", "ann"])
    with pytest.raises(ValueError, match="start with a letter"):
        settings(tmp_path, students=["ann", "../bob"])
    with pytest.raises(ValueError, match="start with a letter"):
        settings(tmp_path, instructors=["1teach"])
    with pytest.raises(TypeError, match="accounts must be a bool"):
        settings(tmp_path, accounts="yes")
    hub = settings(tmp_path)
    assert ch.HubSettings.load(hub.save()) == hub


def test_course_id_is_the_one_autograder_writes(tmp_path):
    from autograder.course import Course

    course = Course(tmp_path / "course").ensure()
    text = (course.root / "nbgrader_config.py").read_text()
    assert re.search(rf'course_id = "{ch.COURSE_ID}"', text), text
    common = (ch.CONFIG_DIRS / "common" / "nbgrader_config.py").read_text()
    assert f'"NNCOURSE_COURSE_ID", "{ch.COURSE_ID}"' in common


def test_the_course_id_is_written_once(tmp_path, monkeypatch):
    """autograder.course.COURSE_ID is the id the course folder's config, nbgrader's API, the
    gradebook and the hub use: no second copy of the literal."""
    import ast

    from autograder import course as course_mod

    assert ch.COURSE_ID is course_mod.COURSE_ID
    for path in (REPO / "autograder" / "course.py", REPO / "deploy" / "hub" / "course_hub.py"):
        literals = [
            node.value
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Constant) and node.value == course_mod.COURSE_ID
        ]
        assert len(literals) == (path.name == "course.py"), (path, literals)
    monkeypatch.setattr(course_mod, "COURSE_ID", "othercourse")
    course = course_mod.Course(tmp_path / "course").ensure()
    assert 'course_id = "othercourse"' in (course.root / "nbgrader_config.py").read_text()
    assert course.api().coursedir.course_id == "othercourse"
    with course.gradebook() as gb:
        assert gb.course_id == "othercourse"


def test_config_gives_formgrader_to_the_instructors_group_only(tmp_path):
    hub = settings(tmp_path, port=18000, hub_port=18081, service_port=18002)
    c = load_config(hub)
    group = f"formgrade-{ch.COURSE_ID}"
    assert c.JupyterHub.load_groups[group] == {"users": ["teach"]}
    assert c.JupyterHub.load_groups[f"nbgrader-{ch.COURSE_ID}"] == {"users": ["ann", "bob"]}
    roles = {r["name"]: r for r in c.JupyterHub.load_roles}
    access = [
        name
        for name, role in roles.items()
        if any(s.startswith("access:services") for s in role["scopes"])
    ]
    assert access == [group] and roles[group]["groups"] == [group]
    assert f"access:services!service={ch.COURSE_ID}" in roles[group]["scopes"]
    (service,) = c.JupyterHub.services
    assert service["name"] == ch.COURSE_ID
    assert service["url"] == "http://127.0.0.1:18002"
    assert service["cwd"] == str(hub.course_dir)
    assert service["environment"]["NNCOURSE_EXCHANGE"] == str(hub.exchange)
    assert c.JupyterHub.ip == "127.0.0.1" and c.JupyterHub.port == 18000
    assert c.JupyterHub.hub_ip == "127.0.0.1" and c.JupyterHub.hub_port == 18081
    assert c.ConfigurableHTTPProxy.command == [str(ch.PROXY)]
    assert c.Authenticator.allowed_users == {"teach", "ann", "bob"}
    # one account: the demo password, every server under this account
    assert c.JupyterHub.authenticator_class == "dummy"
    assert c.DummyAuthenticator.password == "pw"
    assert c.JupyterHub.spawner_class.__name__ == "OneAccountSpawner"


def test_config_with_real_accounts_uses_pam_and_drops_privileges(tmp_path):
    import pwd

    me = pwd.getpwuid(os.getuid()).pw_name  # an account that exists, standing in for grader
    hub = settings(tmp_path, accounts=True, grader=me)
    c = load_config(hub)
    assert c.JupyterHub.authenticator_class == "pam"
    assert c.JupyterHub.spawner_class.__name__ == "CourseSpawner"
    command = c.JupyterHub.services[0]["command"]
    assert f"--reuid={os.getuid()}" in command
    assert command[-1].endswith("jupyterhub-singleuser")
    assert "setpriv" in command and command.index("setpriv") < len(command) - 1


def test_roles_get_their_own_jupyter_settings(tmp_path):
    hub = settings(tmp_path)
    student = ch.user_env(hub, "ann", "student")
    teacher = ch.user_env(hub, "teach", "instructor")
    assert student["JUPYTER_CONFIG_PATH"].split(os.pathsep) == [
        str(ch.CONFIG_DIRS / "student"),
        str(ch.CONFIG_DIRS / "common"),
    ]
    assert teacher["JUPYTER_CONFIG_PATH"].split(os.pathsep)[0] == str(ch.CONFIG_DIRS / "instructor")
    assert student["HOME"] == str(hub.home("ann")) and student["TMPDIR"].startswith(
        str(hub.home("ann"))
    )
    assert ch.role_of(hub, hub.grader) == "grader" and ch.role_of(hub, "bob") == "student"
    grader = ch.user_env(hub, hub.grader, "grader")["JUPYTER_CONFIG_PATH"].split(os.pathsep)
    assert grader == [str(ch.CONFIG_DIRS / "grader"), str(ch.CONFIG_DIRS / "common")]
    # the students' nbgrader settings: submissions filed under the hub name, no formgrader
    env = dict(os.environ, **student, JUPYTERHUB_USER="ann")
    out = subprocess.run(
        [sys.executable, "-c",
         "from nbgrader.apps.baseapp import NbGrader\n"
         "app = NbGrader(); app.load_config_file()\n"
         "print(app.config.CourseDirectory.student_id, app.config.CourseDirectory.course_id,"
         " app.config.Exchange.root)"],
        env=env, cwd=str(tmp_path), capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert out.stdout.split() == ["ann", ch.COURSE_ID, str(hub.exchange)], out.stdout
    server = (ch.CONFIG_DIRS / "student" / "jupyter_server_config.json").read_text()
    assert '"nbgrader.server_extensions.formgrader": false' in server


@pytest.fixture
def open_tmp():
    """A folder every account can enter (pytest's own tmp root is private to its user)."""
    folder = Path(tempfile.mkdtemp(prefix="nncourse-hubcfg-", dir="/tmp"))
    folder.chmod(0o755)
    yield folder
    for root, dirs, _ in os.walk(folder):
        for d in dirs:
            os.chmod(os.path.join(root, d), 0o755)
    shutil.rmtree(folder)


def test_hidden_folders_are_bound_in_read_only(open_tmp, monkeypatch):
    import pwd

    if any(not os.stat(p).st_mode & 0o001 for p in [open_tmp, *open_tmp.parents]):
        pytest.skip(f"{open_tmp} is not reachable by other accounts")
    hidden = open_tmp / "private"
    env = hidden / "deep" / "python"
    env.mkdir(parents=True)
    hidden.chmod(0o700)
    reachable = open_tmp / "open"
    reachable.mkdir()
    assert ch.hidden_ancestors([env, reachable]) == {hidden: [env]}
    assert ch.hidden_ancestors([reachable]) == {}

    me = pwd.getpwuid(os.getuid()).pw_name
    hub = settings(open_tmp / "hub", accounts=True, grader=me)
    monkeypatch.setattr(ch, "needed_paths", lambda: [env, reachable])
    argv = ch.as_user(hub, me)
    assert argv[0] == "bwrap" and "--unshare-pid" in argv and "--die-with-parent" in argv
    joined = " ".join(argv)
    assert f"--perms 0755 --tmpfs {hidden}" in joined
    assert f"--perms 0755 --dir {hidden / 'deep'}" in joined
    assert f"--ro-bind {env} {env}" in joined
    assert argv[argv.index("setpriv") :][1] == f"--reuid={os.getuid()}" and argv[-1] == "--"
    # the hub folder itself must be reachable: it holds every home and the exchange
    monkeypatch.setattr(ch, "needed_paths", lambda: [env])
    inside = settings(hidden / "hub", accounts=True, grader=me)
    with pytest.raises(ValueError, match="cannot enter"):
        ch.as_user(inside, me)
    # a normal installation: just drop to the account
    monkeypatch.setattr(ch, "needed_paths", lambda: [reachable])
    assert ch.as_user(hub, me)[0] == "setpriv"


def test_as_user_is_empty_for_one_account(tmp_path):
    assert ch.as_user(settings(tmp_path), "ann") == []


def test_formgrader_refuses_nbgraders_own_autograde_and_feedback(tmp_path, monkeypatch):
    """The grader's settings make nbgrader's Autograde and GenerateFeedback stop at once."""
    import nbformat
    from nbconvert.exporters import NotebookExporter
    from nbgrader.apps.baseapp import NbGrader

    hub = settings(tmp_path)
    for key, value in ch.user_env(hub, hub.grader, "grader").items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    app = NbGrader()
    app.load_config_file()
    steps = {
        "autograde": app.config.Autograde.sanitize_preprocessors,
        "generate feedback": app.config.GenerateFeedback.preprocessors,
    }
    for step, preprocessors in steps.items():
        assert len(preprocessors) == 1, (step, preprocessors)
        exporter = NotebookExporter()
        exporter.register_preprocessor(preprocessors[0])  # as nbgrader does: not "enabled"
        with pytest.raises(RuntimeError, match=f"nbgrader's {step} is switched off"):
            exporter.from_notebook_node(nbformat.v4.new_notebook())


def test_feedback_uses_the_hubs_own_mathjax_and_keeps_a_chosen_one(tmp_path, monkeypatch):
    """The grader account gets MathJax from deploy/hub/node_modules (npm ci, with the proxy):
    `autograder feedback` would otherwise install it with npm on first use, as that account."""
    from autograder.reporting import mathsvg

    monkeypatch.setattr(ch, "HERE", tmp_path)
    assert "AUTOGRADER_VENDOR" not in ch.feedback_env({"PATH": "/bin"})  # none installed
    marker = tmp_path / "node_modules" / mathsvg.MARKER
    marker.parent.mkdir(parents=True)
    marker.write_text("")
    assert ch.feedback_env({"PATH": "/bin"}) == {"PATH": "/bin", "AUTOGRADER_VENDOR": str(tmp_path)}
    assert ch.feedback_env({"AUTOGRADER_VENDOR": "/opt/mj"})["AUTOGRADER_VENDOR"] == "/opt/mj"


def test_the_hub_package_pins_the_mathjax_the_feedback_pages_use():
    import json

    from autograder.reporting import mathsvg

    name, version = mathsvg.PACKAGE.rsplit("@", 1)
    package = json.loads((REPO / "deploy" / "hub" / "package.json").read_text())
    lock = json.loads((REPO / "deploy" / "hub" / "package-lock.json").read_text())
    assert package["dependencies"][name] == version
    assert lock["packages"][f"node_modules/{name}"]["version"] == version

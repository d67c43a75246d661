# JupyterHub for one nbgrader course (course id "nncourse"), on 127.0.0.1.
#
#   jupyterhub -f deploy/hub/jupyterhub_config.py   with NNCOURSE_HUB=<hub folder>/hub.json
#
# `make hub` (deploy/hub/demo.py) writes hub.json, creates the accounts, releases the
# course and starts the hub with this file. docs/deploy.md explains each choice and how
# the same course runs on Kubernetes or The Littlest JupyterHub.
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from course_hub import COURSE_ID, PROXY, HubSettings, service, spawner_class  # noqa: E402

c = get_config()  # noqa: F821
hub = HubSettings.load(os.environ["NNCOURSE_HUB"])

# --- network: everything on loopback; the proxy is configurable-http-proxy from npm
c.JupyterHub.ip = hub.ip
c.JupyterHub.port = hub.port
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = hub.hub_port
c.ConfigurableHTTPProxy.command = [str(PROXY)]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{hub.proxy_api_port}"
c.ConfigurableHTTPProxy.pid_file = str(hub.root / "proxy.pid")

# --- state of the hub itself, in the hub folder
c.JupyterHub.db_url = f"sqlite:///{hub.root / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(hub.root / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(hub.root / "jupyterhub.pid")

# --- who may log in: real accounts check their password with PAM; one-account mode
# shares one demo password (DummyAuthenticator: for trying the course out only)
if hub.accounts:
    c.JupyterHub.authenticator_class = "pam"
    c.PAMAuthenticator.open_sessions = False
else:
    c.JupyterHub.authenticator_class = "dummy"
    c.DummyAuthenticator.password = hub.password
c.Authenticator.allowed_users = set(hub.users)

# --- groups and roles: instructors (and TAs) alone reach the course's formgrader service
c.JupyterHub.load_groups = {
    f"formgrade-{COURSE_ID}": {"users": hub.instructors},
    f"nbgrader-{COURSE_ID}": {"users": hub.students},
}
c.JupyterHub.load_roles = [
    {
        "name": f"formgrade-{COURSE_ID}",
        "groups": [f"formgrade-{COURSE_ID}"],
        "scopes": [
            f"access:services!service={COURSE_ID}",
            "list:services",  # the instructor's "Course List" finds the service
            f"read:services!service={COURSE_ID}",
        ],
    },
    # servers' own tokens may do what their owner may (the course list asks the hub API)
    {"name": "server", "scopes": ["inherit"]},
]

# --- the course: formgrader and a JupyterLab on the course folder, as the grader account
c.JupyterHub.services = [service(hub)]

# --- single-user servers: JupyterLab with nbgrader's Assignments tab
c.JupyterHub.spawner_class = spawner_class(hub)
c.SimpleLocalProcessSpawner.home_dir_template = str(hub.root / "home" / "{username}")
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
# servers keep running after the browser closes; JupyterHub stops them when it stops
c.JupyterHub.cleanup_servers = True

# --- LTI 1.3: with NNCOURSE_LTI=<the tool's lti.json>, people arrive from the LMS instead
# of logging in (lti_config.py; docs/deploy.md, section 8)
if os.environ.get("NNCOURSE_LTI"):
    from lti_config import configure as configure_lti  # noqa: E402

    configure_lti(c, hub, os.environ["NNCOURSE_LTI"])

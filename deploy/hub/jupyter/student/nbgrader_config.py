# nbgrader settings of the students' servers (on top of ../common/nbgrader_config.py).
# A submission is filed under the student's hub name. nbgrader would take the OS account
# name, which in one-account mode (every user under one account) is the same for everyone.
import os

c = get_config()  # noqa: F821
c.CourseDirectory.student_id = os.environ.get("JUPYTERHUB_USER", "*")

# nbgrader settings every account of the hub shares (students, instructors, the grader).
# The hub puts this folder on JUPYTER_CONFIG_PATH and sets NNCOURSE_EXCHANGE for every server.
import os

c = get_config()  # noqa: F821
c.CourseDirectory.course_id = os.environ.get("NNCOURSE_COURSE_ID", "nncourse")
c.Exchange.root = os.environ.get("NNCOURSE_EXCHANGE", "/srv/nbgrader/exchange")

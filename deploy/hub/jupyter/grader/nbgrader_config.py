# nbgrader settings of the course's formgrader service (the grader account).
# This course grades with `python -m autograder grade` (sandboxed, scored against the answer
# key) and writes feedback with `course_hub.py feedback` (no hidden tests). formgrader's
# own Autograde and Generate feedback buttons would do neither, so they stop with a message.
from nbconvert.preprocessors import Preprocessor

c = get_config()  # noqa: F821


def refuse(step, instead):
    class Refuse(Preprocessor):
        def __call__(self, nb, resources):  # whether or not nbconvert marked it enabled
            raise RuntimeError(f"nbgrader's {step} is switched off for this course: {instead}")

    Refuse.__name__ = f"Refuse_{step.replace(' ', '_')}"
    return Refuse


c.Autograde.sanitize_preprocessors = [
    refuse(
        "autograde",
        "grade with `python -m autograder grade ASSIGNMENT --submissions submitted "
        "--course-dir .` in the course terminal (it also restores the autograded copy "
        "this attempt removed)",
    )
]
c.GenerateFeedback.preprocessors = [
    refuse(
        "generate feedback",
        "write the pages with `python deploy/hub/course_hub.py feedback ASSIGNMENT` (its "
        "pages show no hidden tests), then Release feedback",
    )
]

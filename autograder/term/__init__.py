"""What a term needs around grading: due dates and extensions (``calendar.py``), the late
policy (``late_policy.py``), hand grading (``handoff.py``) and the LMS (``lti.py``)."""

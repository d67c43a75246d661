"""Grading, in the trusted parent: what was handed in (``submissions.py``), sanitised
(``sanitize.py``), scored against the answer key (``answer_key.py``, ``scoring.py``) and
recorded (``marker.py``); ``pipeline.py`` runs it for a class."""

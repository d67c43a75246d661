"""Where grading tasks run: the seam (``base.py``), this machine (``local.py``), a Dask
cluster (``cluster.py``), and the choice between them (``placement.py``)."""

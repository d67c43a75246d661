"""Helpers shared by the test files, imported as ``support.<module>`` (test files never
import each other): one table of cases per extensible family (``layer_cases``,
``optim_cases``, ``loss_cases``), torch's stored optimiser trajectories
(``torch_reference``), state equality for wrong calls (``state``), the import graph
(``import_graph``), bounded reads of a child process's output (``process``), the grader's
command line and fixture course (``grader``), the real assignments and a perfect submission
(``assignments``), grade cells run as the kernel would (``grade_cells``) and the hub tests'
choice of real accounts (``hub_accounts``). ``tests/test_test_imports.py`` fails when a test
file imports another."""

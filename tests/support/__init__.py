"""Helpers shared by the test files, imported as ``support.<module>`` (test files never
import each other): one table of cases per extensible family (``layer_cases``,
``optim_cases``, ``loss_cases``), torch's stored optimiser trajectories
(``torch_reference``), state equality for wrong calls (``state``), the import graph
(``import_graph``) and bounded reads of a child process's output (``process``)."""

"""Helpers shared by the test files (imported as ``support.<module>``; test files never
import each other): the layer case table, state snapshots, the import graph."""

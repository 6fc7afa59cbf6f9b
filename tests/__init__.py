"""The test tree, a package so that tests import their helpers as ``tests.support``."""

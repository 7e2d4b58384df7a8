"""Run order: the modules marked slow first, so that `make test`'s workers (pytest-xdist, whole
modules each) do not end waiting on one long module started last."""


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable: order kept within

"""The payload controller firmware (MicroPython; also imported by ground/ under CPython).

Firmware modules write ``from micropython import const`` as on the board. Under
CPython that module does not exist, so importing this package first provides a
stand-in whose ``const`` returns its argument, as MicroPython's does at run time.
"""

try:
    import micropython  # noqa: F401
except ImportError:  # CPython
    import sys

    _shim = type(sys)("micropython")
    _shim.const = lambda x: x  # type: ignore[attr-defined]
    sys.modules["micropython"] = _shim

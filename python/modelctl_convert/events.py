import json
import sys

EXIT_USAGE = 2
EXIT_MISSING = 3
EXIT_CONVERSION = 4
EXIT_VALIDATION = 5

# Converters print freely on stdout (tf2onnx, optimum); the events keep the real stdout to themselves.
_events = sys.stdout


def claim_stdout():
    """Sends everything else that writes to stdout to stderr, so that stdout carries events only."""
    global _events
    _events = sys.stdout
    sys.stdout = sys.stderr


def emit(event_name, **fields):
    _events.write(json.dumps({"event": event_name, **fields}, default=_default) + "\n")
    _events.flush()


def progress(stage, message):
    emit("progress", stage=stage, message=message)


def warning(message):
    emit("warning", message=message)


def _default(value):
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.tolist()
    except ImportError:
        pass
    return str(value)


class Failure(Exception):
    """An expected failure: reported as an error event with its kind, and the matching exit code."""

    def __init__(self, kind, message, code, **fields):
        super().__init__(message)
        self.kind = kind
        self.code = code
        self.fields = fields


def usage(message):
    return Failure("usage", message, EXIT_USAGE)


def missing(module, family, error):
    return Failure("missing-dependency", f"cannot import {module}: {error}", EXIT_MISSING, module=module, family=family)


def conversion(message):
    return Failure("conversion", message, EXIT_CONVERSION)


def require(module, family):
    """Imports a converter's module, or fails with the family whose setup installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except Exception as e:  # ImportError, and the odd broken install that raises something else on import
        raise missing(module, family, f"{type(e).__name__}: {e}") from e

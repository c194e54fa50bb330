"""Gevent entry point: patch the standard library before anything else loads.

Patching must come first (Flask's docs: "as early as possible"), or modules
imported earlier keep references to the blocking socket and threading.
"""

# benchapp.patching imports nothing gevent patches; it logs what was patched when monitored
from benchapp.patching import loaded, patch_all

patch_all()

from benchapp.wsgi import app  # noqa: E402  (re-export, after patching)

loaded()  # the patch line again, with the blocking drivers the app loaded

__all__ = ["app"]

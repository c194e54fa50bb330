"""Gevent entry point for gRPC clients: patch, then make gRPC cooperative.

gRPC's core runs its own threads and polls its sockets in C, out of the
hub's sight; grpc.experimental.gevent.init_gevent() moves that onto gevent.
It must run after the standard library is patched and before any gRPC
object exists, so it comes right after patch_all(), before the app is
imported. Only a server that imports the app in the serving process suits
this (Gunicorn's gevent worker imports it after the fork).
"""

# benchapp.patching imports nothing gevent patches; it logs what was patched when monitored
from benchapp.patching import loaded, patch_all

patch_all()

import grpc.experimental.gevent as grpc_gevent  # noqa: E402

grpc_gevent.init_gevent()

from benchapp.wsgi import app  # noqa: E402  (re-export, after patching)

loaded()  # the patch line again, with the blocking drivers the app loaded

__all__ = ["app"]

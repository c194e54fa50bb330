"""Entry of a user's own ASGI app (its `asgi:` target), for the modes that serve an ASGI app."""

from benchapp.userapp import asgi_app

app = asgi_app()

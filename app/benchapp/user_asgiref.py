"""ASGI entry of a user's WSGI app (uvicorn-asgiref): WsgiToAsgi as benchapp.flask_asgi wraps ours."""

from benchapp.asgiwrap import wrap
from benchapp.user_wsgi import app as wsgi_app

app = wrap(wsgi_app)

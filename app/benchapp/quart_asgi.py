"""Entry point of the quart mode: the ASGI server serves `benchapp.quart_asgi:app`."""

from benchapp.quart_app import create_app

app = create_app()

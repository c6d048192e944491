"""``legato server``: the REST API (``/api/v1``) over the store, as an ASGI app.

``create_app(store)`` (in ``legato.server.app``) builds it; ``legato server`` serves it
with uvicorn. Importing ``legato`` never imports this package (FastAPI is the
``legato[server]`` extra).
"""

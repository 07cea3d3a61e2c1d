"""The web side of onething: the REST API (``api.routes``), the pages (``api.pages``) and the CLI.

``api.app.create_app`` builds the FastAPI application; ``api.cli.main`` is the ``onething``
command. The API calls the engine facade only (``engine.service.Engine``).
"""

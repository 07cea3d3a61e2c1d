"""Request and response schemas of the REST API (suffixes: ``...Create`` in, ``...Public`` out), by concept.

Every body the API takes or gives has a model in one of these modules, so ``/openapi.json``
describes all of them; only the free-form ``data`` objects (form answers, decisions, audit
details) are ``dict[str, Any]``. Request models refuse unknown keys, so a typo is a 422, not a
silent no-op. ``from_view`` constructors turn the engine's frozen views into answers. The class
names are the OpenAPI component names: renaming one changes the document.

Modules: ``common`` (bases, labels, errors, problems, health), ``accounts``, ``bundles``,
``materials``, ``tasks``, ``cases``, ``feedback`` (ratings, rectifications, complaints,
supervision), ``analytics``. Routes import the module they use; this package re-exports nothing.

May import: pydantic, engine (views, states and rows it turns into answers); never api.routes.
"""

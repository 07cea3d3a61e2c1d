"""Bundles as files and as specs: safety, checks, validation, definitions, runtime, expressions, deployments.

A bundle is a folder (``bundle.yaml``, one ``.bpmn``, its ``.dmn`` tables). This package
reads it safely, checks and validates it (``checks``, ``validation``), loads it into a
SpiffWorkflow spec (``definitions``), runs and serializes workflows (``runtime``,
``serialization``), owns the restricted expression language (``expressions``) and stores
deployed versions (``deployments``). It knows nothing of cases, people or queues.

May import: ``engine.storage``, ``engine.time``, ``engine.errors``, ``forms``.
"""

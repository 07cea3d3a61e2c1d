"""Bundles as files: XML safety, checks, validation, definitions, runtime, expressions, deployments."""

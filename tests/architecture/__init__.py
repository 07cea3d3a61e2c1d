"""Tests of the dependency rules: the import-linter contracts bite, and no import circles."""

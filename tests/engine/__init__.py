"""Tests of onething."""

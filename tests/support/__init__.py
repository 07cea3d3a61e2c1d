"""Helpers shared by the test suite: real databases, servers and browsers, never stand-ins."""

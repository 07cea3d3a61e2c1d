"""Mutation testing of the rule modules (``make mutation``): the driver and its score."""

"""Forms: the data-element catalog, one merged form per bundle, validation, views, rendering.

One form (一表申请), one set of materials (一套材料), one notice (一次性告知): the items of a
bundle are merged into one form whose every field is asked once, validated with every
problem reported at once, and shown to each department only as far as its item needs.
This package is pure: it imports neither ``engine`` nor ``api``.
"""

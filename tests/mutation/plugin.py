"""A pytest plugin for mutation runs only (``-p tests.mutation.plugin`` in ``[tool.mutmut]``).

A property test that a mutant breaks fails on its first bad example; shrinking that example
to the smallest one can take a minute, which mutmut then reports as a timeout after burning
the CPU of a machine shared by several runs. Without the shrink phase the failure is just as
certain and immediate. Examples are derandomized so two runs over the same code agree.
"""

from __future__ import annotations

from hypothesis import Phase, settings

settings.register_profile(
    "mutation",
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    derandomize=True,
    database=None,
    deadline=None,
)
settings.load_profile("mutation")

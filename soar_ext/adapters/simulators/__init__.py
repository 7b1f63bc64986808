"""Protocol-faithful simulators of the external systems, served over real HTTP on loopback.

Each simulator is a Starlette app built by a ``create_app(...)`` function, with deterministic
data, in-process overrides for tests and fault injection (see :mod:`.common`).
"""

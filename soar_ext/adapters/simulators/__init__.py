"""Protocol-faithful simulators of the external systems, served over real HTTP on loopback.

Each simulator is a Starlette app built by a ``create_app(...)`` function, with deterministic
data, in-process overrides for tests, configurable quota, latency and faults (see :mod:`.common`
and :mod:`.config`). The simulators are independent witnesses of the protocols: nothing here
imports the clients (``soar_ext.adapters.*`` outside this package); a test keeps it so.

They need the ``standin`` extra (starlette, uvicorn); importing them without it raises
:class:`~soar_ext.standin.StandinMissing`, which names the extra to install.
"""

from soar_ext.standin import require_standin

require_standin("The external-system simulators")

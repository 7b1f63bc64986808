"""soar-ext: the extension layer SOAR loads at run time.

SOAR calls the hooks of :mod:`soar_ext.hookspecs` through :class:`soar_ext.host.SoarHost`;
plugins implement them with :data:`hookimpl`.
"""

from soar_ext.hookspecs import hookimpl, hookspec

__all__ = ["__version__", "hookimpl", "hookspec"]
__version__ = "0.1.0"

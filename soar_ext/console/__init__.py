"""The SOAR stand-in console: a local web app that calls :class:`~soar_ext.host.SoarHost` as SOAR does.

It renders generically what the hooks return (query fields, contributions, action results,
contract decisions and the generic blocks of :mod:`soar_ext.hook_payloads`). The only
feature-specific code is SOAR's own side of each screen, one module per screen under
:mod:`soar_ext.console.screens`. Needs the ``standin`` extra (``pip install 'soar-ext[standin]'``).
"""

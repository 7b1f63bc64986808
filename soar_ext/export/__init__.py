"""The one Excel export module: :mod:`soar_ext.export.xlsx` (workbooks) and :mod:`soar_ext.export.audited`
(role-checked, audited exports for plugins). See ``docs/export.md``."""

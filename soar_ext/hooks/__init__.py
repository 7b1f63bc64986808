"""soar-ext's feature plugins, one module per seed item, registered through the ``soar`` entry points."""

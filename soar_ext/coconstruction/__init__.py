"""配建项目 (seed item 4): the surveying link and the delivery of received documents.

Modules: :mod:`.settings` (``[plugins.co_construction]``), :mod:`.names` (name normalisation
and matching), :mod:`.survey_sync` (link, figures, the ``tch_fwxx`` fallback), :mod:`.documents`
(checks of a received file), :mod:`.outbox` (the durable outbox and per-type status),
:mod:`.delivery` (the delivery worker) and :mod:`.page` (the project panel). The hooks are in
:mod:`soar_ext.hooks.co_construction`.
"""

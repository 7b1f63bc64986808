"""Seed item 6: the batch household-registration (户籍) check of every current family member.

Modules: :mod:`.settings` (``[plugins.hukou_check]``), :mod:`.selection` (which applicants, their
current family members), :mod:`.jobs` (the job and its list in ``sx_hukou_job`` /
``sx_hukou_member``, items in ``sx_hukou_item``), :mod:`.worker` (a worker: claims items, asks
the Big Data 户籍 interface under the shared quota, stores results as they arrive),
:mod:`.progress` (done / failed / remaining, rate, ETA), :mod:`.listing` (the Excel list) and
:mod:`.page` (the 批量作业 page's blocks). The plugin is :mod:`soar_ext.hooks.hukou_check`.
"""

"""Seed item 5, house allocation (房源划拨): the parts behind ``soar_ext.hooks.allocation``.

- :mod:`~soar_ext.allocation.records`: batches, their applicants and houses, read from SOAR's tables;
- :mod:`~soar_ext.allocation.links`: the one-to-one applicant↔house links of 调房划拨 and their change log;
- :mod:`~soar_ext.allocation.pairing`: the suggested pairing (推荐配对);
- :mod:`~soar_ext.allocation.candidates`: the 廉租房 candidate filters and 添加 of 选房划拨;
- :mod:`~soar_ext.allocation.housing`: 是否已划拨 on the housing query;
- :mod:`~soar_ext.allocation.link_list`: the Excel list (导出清单);
- :mod:`~soar_ext.allocation.page`: what the batch page shows (generic page content).
"""

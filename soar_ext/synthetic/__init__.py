"""Realistic synthetic Hangzhou data for the assumed SOAR legacy tables (demos, tests, benchmarks)."""

from soar_ext.synthetic.build import BASE_DATE, build_dataset
from soar_ext.synthetic.ids import make_id_number
from soar_ext.synthetic.populate import DatabaseNotEmpty, GenerationSummary, LegacyTablesMissing, populate

__all__ = [
    "BASE_DATE",
    "DatabaseNotEmpty",
    "GenerationSummary",
    "LegacyTablesMissing",
    "build_dataset",
    "make_id_number",
    "populate",
]

"""Big Data Bureau shared interfaces (Zhejiang public data platform), gateway generations 1 and 2."""

from soar_ext.adapters.bigdata.categories import CATEGORIES, CATEGORY_CODES, Category, household_status_label
from soar_ext.adapters.bigdata.client import BigDataClient, BudgetExceeded, CategoryResult, QueryRecord
from soar_ext.adapters.bigdata.settings import BigDataSettings

__all__ = [
    "CATEGORIES",
    "CATEGORY_CODES",
    "BigDataClient",
    "BigDataSettings",
    "BudgetExceeded",
    "Category",
    "CategoryResult",
    "QueryRecord",
    "household_status_label",
]

"""Code values stored in SOAR's legacy columns, with their Chinese labels.

SOAR keeps codes as short strings; screens show the labels. Keeping both here means a
maintainer adapting to the real SOAR code tables edits one module.
"""

from __future__ import annotations

from typing import Final


class GuaranteeType:
    """保障类型 (``BZLX``)."""

    PUBLIC_RENTAL: Final = "01"
    LOW_RENT: Final = "02"
    LABELS: Final = {"01": "公租房", "02": "廉租房"}


class ApprovalStatus:
    """审批状态 (``SPZT``) of an application."""

    ACCEPTED: Final = "01"
    REVIEWING: Final = "02"
    PUBLICISED: Final = "03"
    QUALIFIED: Final = "04"
    COMPLETED: Final = "09"
    REJECTED: Final = "99"
    LABELS: Final = {
        "01": "已受理",
        "02": "审核中",
        "03": "公示中",
        "04": "已取得资格",
        "09": "已办结",
        "99": "不予通过",
    }


class Relation:
    """与主申请人关系 (``YSQRGX``)."""

    SELF: Final = "01"
    SPOUSE: Final = "02"
    CHILD: Final = "03"
    PARENT: Final = "04"
    SIBLING: Final = "05"
    GRANDCHILD: Final = "06"
    OTHER: Final = "99"
    LABELS: Final = {
        "01": "本人",
        "02": "配偶",
        "03": "子女",
        "04": "父母",
        "05": "兄弟姐妹",
        "06": "孙子女",
        "99": "其他",
    }


class ContractType:
    """配租类型 (``PZLX``) of a lease contract."""

    NEW: Final = "01"
    RENEWAL: Final = "02"
    EXCHANGE: Final = "03"
    ADJUSTMENT: Final = "04"
    LABELS: Final = {"01": "新配租", "02": "续租", "03": "换房", "04": "调房"}


class ContractStatus:
    """合同状态 (``HTZT``)."""

    DRAFT: Final = "00"
    SIGNED: Final = "01"
    TERMINATED: Final = "02"
    LABELS: Final = {"00": "待签订", "01": "已签订", "02": "已终止"}


class PairingStatus:
    """换房配对状态 (``PDZT``)."""

    PENDING: Final = "01"
    MATCHED: Final = "02"
    CANCELLED: Final = "03"
    LABELS: Final = {"01": "配对中", "02": "配对成功", "03": "已取消"}


class ExchangeKind:
    """换房类型 (``HFLX``): whether the exchanging households hold an allocation."""

    ALLOCATED: Final = "01"
    UNALLOCATED: Final = "02"
    LABELS: Final = {"01": "已配租换房", "02": "未配租换房"}


class InspectionStatus:
    """验房状态 (``YFZT``) in the exchange platform."""

    PENDING: Final = "00"
    PASSED: Final = "01"
    FAILED: Final = "02"
    LABELS: Final = {"00": "待验房", "01": "验房通过", "02": "验房不通过"}


class HouseStatus:
    """房源状态 (``FYZT``)."""

    VACANT: Final = "01"
    LET: Final = "02"
    RESERVED: Final = "03"
    REPAIR: Final = "04"
    LABELS: Final = {"01": "空置", "02": "已出租", "03": "已预留", "04": "维修中"}


class AllocationKind:
    """划拨类型 (``HBLX``)."""

    ADJUSTMENT: Final = "01"
    SELECTION: Final = "02"
    LABELS: Final = {"01": "调房划拨", "02": "选房划拨"}


class AllocationBatchStatus:
    """划拨批次状态 (``PCZT``): a batch is open (办理中) until it is completed or cancelled."""

    OPEN: Final = "01"
    COMPLETED: Final = "02"
    CANCELLED: Final = "03"
    LABELS: Final = {"01": "办理中", "02": "已办结", "03": "已撤销"}


class DocumentType:
    """收件材料类型 (配建项目收件: the document types SOAR passes to the ``soar_documents_received`` hook)."""

    AGREEMENT: Final = "01"
    PROGRESS_PLEDGE: Final = "02"
    FULFILMENT_CONFIRMATION: Final = "03"
    SALES_RESTRICTION_RELEASE: Final = "04"
    LABELS: Final = {
        "01": "配建协议书",
        "02": "工程建设进度承诺书",
        "03": "保障性住房配建协议履行确认书",
        "04": "解除限制销售房源联系单",
    }


class Gender:
    """性别 (``XB``), GB/T 2261.1."""

    MALE: Final = "1"
    FEMALE: Final = "2"
    LABELS: Final = {"1": "男", "2": "女"}


DISTRICTS: Final = {
    "330102": "上城区",
    "330105": "拱墅区",
    "330106": "西湖区",
    "330108": "滨江区",
    "330109": "萧山区",
    "330110": "余杭区",
    "330111": "富阳区",
    "330112": "临安区",
    "330113": "临平区",
    "330114": "钱塘区",
}

"""The twelve verification categories of the Big Data Bureau shared interfaces.

Each category names its upstream interface, the fields the interface returns and how staff see
them: Chinese labels, and code tables decoded into readable text while the raw code is kept
beside it (``户籍状态代码`` next to ``户籍状态``), so nothing the upstream said is lost.

Interface ids are assigned per deployment by the data platform when an application is approved;
the defaults here are placeholders that ``BigDataSettings`` lets configuration override.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# Suffix of the extra key holding a decoded field's raw code.
CODE_SUFFIX = "代码"


@dataclass(frozen=True)
class Field:
    """One upstream field: its key, the Chinese label shown to staff and an optional code table.

    ``kind`` ``"date"`` turns ``20240501`` into ``2024-05-01`` and ``"month"`` turns ``202405``
    into ``2024-05``; other values (``长期``, ISO dates) pass unchanged.
    """

    key: str
    label: str
    codes: Mapping[str, str] | None = None
    kind: str = "text"

    def format(self, value: object) -> object:
        """The display value of a non-coded field."""
        if isinstance(value, str) and value.isdigit():
            if self.kind == "date" and len(value) == 8:
                return f"{value[:4]}-{value[4:6]}-{value[6:]}"
            if self.kind == "month" and len(value) == 6:
                return f"{value[:4]}-{value[4:]}"
        return value

    def decode(self, raw: object) -> str | None:
        """Readable text for a raw code (``None`` stays ``None``; unknown codes are named, not dropped)."""
        if raw is None or self.codes is None:
            return None
        code = str(raw)
        return self.codes.get(code, f"未知（代码{code}）")


@dataclass(frozen=True)
class Category:
    """A verification category: code, Chinese label, default interface id and field map."""

    code: str
    label: str
    interface_id: str
    fields: tuple[Field, ...]

    def normalise_record(self, raw: Mapping[str, object]) -> dict[str, object]:
        """One upstream record as a dict keyed by Chinese labels, in field order.

        Every declared field is present (``None`` when the upstream left it out or empty), so
        screens and exports get stable columns; a coded field yields the readable label under its
        own label and the raw code under ``label + "代码"``. Undeclared keys stay in the raw payload.
        """
        record: dict[str, object] = {}
        for f in self.fields:
            value = raw.get(f.key)
            if value == "":
                value = None
            if f.codes is None:
                record[f.label] = f.format(value)
            else:
                record[f.label] = f.decode(value)
                record[f.label + CODE_SUFFIX] = None if value is None else str(value)
        return record

    def normalise(self, datas: object) -> list[dict[str, object]]:
        """Normalise an envelope's ``datas``: ``None``/empty means no record, a dict is one record.

        Raises ``ValueError`` (the caller turns it into ``BadResponse``) for any other shape.
        """
        if datas is None or datas == "" or datas == [] or datas == {}:
            return []
        items = [datas] if isinstance(datas, Mapping) else datas
        if not isinstance(items, list):
            raise ValueError(f"datas 应为列表或对象，实际为 {type(datas).__name__}")
        records = []
        for item in items:
            if not isinstance(item, Mapping):
                raise ValueError(f"datas 的元素应为对象，实际为 {type(item).__name__}")
            records.append(self.normalise_record(item))
        return records


# --- code tables -------------------------------------------------------------------------------

# Household-registration (户籍) status. "0" is a live registration; the others follow the public
# security bureau's categories for cancelling a registration (注销户口). Code 6 is historical
# (re-education through labour was abolished in 2013) but still appears on old records.
HOUSEHOLD_STATUS: Mapping[str, str] = {
    "0": "正常",
    "1": "死亡",
    "2": "迁出",
    "3": "出国（境）定居",
    "4": "服兵役",
    "5": "失踪",
    "6": "被判处徒刑、劳动教养",
    "7": "重复登记注销",
    "9": "其他注销",
}

# GB/T 2261.1-2003 sex.
SEX: Mapping[str, str] = {"0": "未知的性别", "1": "男", "2": "女", "9": "未说明的性别"}

# GB/T 2261.2-2003 marital status.
MARITAL_STATUS: Mapping[str, str] = {
    "10": "未婚",
    "20": "已婚",
    "21": "初婚",
    "22": "再婚",
    "23": "复婚",
    "30": "丧偶",
    "40": "离婚",
    "90": "未说明的婚姻状况",
}

# Social-insurance scheme codes used by the human-resources and social-security system.
INSURANCE_SCHEME: Mapping[str, str] = {
    "110": "企业职工基本养老保险",
    "120": "机关事业单位养老保险",
    "170": "城乡居民基本养老保险",
    "210": "失业保险",
    "310": "职工基本医疗保险",
    "390": "城乡居民基本医疗保险",
    "410": "工伤保险",
    "510": "生育保险",
}
INSURANCE_STATUS: Mapping[str, str] = {"1": "参保缴费", "2": "暂停缴费", "3": "终止参保"}

CONTRACT_TERM: Mapping[str, str] = {"1": "固定期限", "2": "无固定期限", "3": "以完成一定工作任务为期限"}
CONTRACT_STATUS: Mapping[str, str] = {"1": "履行中", "2": "已终止", "3": "已解除"}

HOUSING_FUND_STATUS: Mapping[str, str] = {"1": "正常", "2": "封存", "3": "冻结", "9": "销户"}

# GA 24 motor-vehicle plate types and vehicle states (the values seen in practice).
PLATE_TYPE: Mapping[str, str] = {
    "01": "大型汽车",
    "02": "小型汽车",
    "07": "普通摩托车",
    "15": "挂车",
    "16": "教练汽车",
    "51": "大型新能源汽车",
    "52": "小型新能源汽车",
}
VEHICLE_STATUS: Mapping[str, str] = {
    "A": "正常",
    "B": "转出",
    "C": "被盗抢",
    "D": "停驶",
    "E": "注销",
    "G": "违法未处理",
    "H": "海关监管",
    "I": "事故未处理",
    "J": "嫌疑车",
    "K": "查封",
    "L": "暂扣",
    "M": "强制注销",
    "N": "事故逃逸",
    "O": "锁定",
    "P": "达到报废标准",
    "Q": "逾期未检验",
}

PERMIT_STATUS: Mapping[str, str] = {"1": "有效", "2": "已过期", "3": "已注销"}


def household_status_label(code: object) -> str:
    """Readable label of a household-registration status code (unknown codes are named)."""
    return _HOUSEHOLD_STATUS_FIELD.decode(code) or "未知"


_NAME = Field("xm", "姓名")
_ID = Field("sfzh", "身份证号")
_HOUSEHOLD_STATUS_FIELD = Field("hjzt", "户籍状态", HOUSEHOLD_STATUS)

# --- the twelve categories, in the order of the requirement ----------------------------------

_ALL: tuple[Category, ...] = (
    Category(
        "social_insurance",
        "社保",
        "shbx_cbxx",
        (
            _NAME,
            _ID,
            Field("xzlx", "险种类型", INSURANCE_SCHEME),
            Field("cbzt", "参保状态", INSURANCE_STATUS),
            Field("cbdw", "参保单位"),
            Field("cbd", "参保地"),
            Field("cbrq", "参保日期", kind="date"),
            Field("zhjfny", "最近缴费年月", kind="month"),
            Field("ljjfys", "累计缴费月数"),
        ),
    ),
    Category(
        "labour_contract",
        "劳动合同",
        "ldht_bacx",
        (
            _NAME,
            _ID,
            Field("yrdw", "用人单位"),
            Field("tyshxydm", "统一社会信用代码"),
            Field("htqxlx", "合同期限类型", CONTRACT_TERM),
            Field("htqsrq", "合同起始日期", kind="date"),
            Field("htzzrq", "合同终止日期", kind="date"),
            Field("htzt", "合同状态", CONTRACT_STATUS),
        ),
    ),
    Category(
        "housing_fund",
        "公积金",
        "gjj_jcxx",
        (
            _NAME,
            _ID,
            Field("grzh", "个人账号"),
            Field("dwmc", "缴存单位"),
            Field("zhzt", "账户状态", HOUSING_FUND_STATUS),
            Field("jcjs", "缴存基数"),
            Field("yjce", "月缴存额"),
            Field("khrq", "开户日期", kind="date"),
            Field("zhjcny", "最近缴存年月", kind="month"),
        ),
    ),
    Category(
        "vehicles",
        "车辆",
        "jdc_djxx",
        (
            Field("syr", "所有人"),
            _ID,
            Field("hphm", "号牌号码"),
            Field("hpzl", "号牌种类", PLATE_TYPE),
            Field("clpp", "车辆品牌"),
            Field("ccdjrq", "初次登记日期", kind="date"),
            Field("zt", "机动车状态", VEHICLE_STATUS),
        ),
    ),
    Category(
        "enterprises",
        "名下企业",
        "qy_rzxx",
        (
            _NAME,
            _ID,
            Field("qymc", "企业名称"),
            Field("tyshxydm", "统一社会信用代码"),
            Field("rzlx", "任职类型"),
            Field("djzt", "登记状态"),
            Field("zczb", "注册资本（万元）"),
            Field("clrq", "成立日期", kind="date"),
        ),
    ),
    Category(
        "marriage",
        "婚姻",
        "hy_djxx",
        (
            _NAME,
            _ID,
            Field("hyzk", "婚姻状况", MARITAL_STATUS),
            Field("djlx", "登记类型"),
            Field("poxm", "配偶姓名"),
            Field("posfzh", "配偶身份证号"),
            Field("djrq", "登记日期", kind="date"),
            Field("djjg", "登记机关"),
        ),
    ),
    Category(
        "identity_card",
        "身份证",
        "jmsfz_xx",
        (
            _NAME,
            _ID,
            Field("xb", "性别", SEX),
            Field("mz", "民族"),
            Field("csrq", "出生日期", kind="date"),
            Field("zz", "住址"),
            Field("qfjg", "签发机关"),
            Field("yxqqsrq", "有效期起始日期", kind="date"),
            Field("yxqjzrq", "有效期截止日期", kind="date"),
        ),
    ),
    Category(
        "student_status",
        "学籍",
        "xj_xlxx",
        (
            _NAME,
            _ID,
            Field("xxmc", "学校名称"),
            Field("zymc", "专业"),
            Field("xlcc", "学历层次"),
            Field("rxrq", "入学日期", kind="date"),
            Field("byrq", "毕业日期", kind="date"),
            Field("xjzt", "学籍状态"),
        ),
    ),
    Category(
        "qualification_certificates",
        "职业资格证",
        "zyzg_zsxx",
        (
            _NAME,
            _ID,
            Field("zsmc", "证书名称"),
            Field("zsbh", "证书编号"),
            Field("zsdj", "等级"),
            Field("fzjg", "发证机关"),
            Field("fzrq", "发证日期", kind="date"),
        ),
    ),
    Category(
        "professional_titles",
        "职称",
        "zc_psxx",
        (
            _NAME,
            _ID,
            Field("zcmc", "职称名称"),
            Field("zcjb", "职称级别"),
            Field("psjg", "评审（认定）机构"),
            Field("qdrq", "取得日期", kind="date"),
            Field("zsbh", "证书编号"),
        ),
    ),
    Category(
        "household_registration",
        "户籍",
        "hj_czrkxx",
        (
            _NAME,
            _ID,
            _HOUSEHOLD_STATUS_FIELD,
            Field("hh", "户号"),
            Field("yhzgx", "与户主关系"),
            Field("hjdz", "户籍地址"),
            Field("sspcs", "所属派出所"),
            Field("djrq", "登记日期", kind="date"),
            Field("bdrq", "变动日期", kind="date"),
            Field("bdsm", "变动说明"),
        ),
    ),
    Category(
        "residence_permit",
        "居住证",
        "jzz_xx",
        (
            _NAME,
            _ID,
            Field("jzzbh", "居住证编号"),
            Field("jzdz", "居住地址"),
            Field("zjzt", "证件状态", PERMIT_STATUS),
            Field("fzjg", "签发机关"),
            Field("fzrq", "签发日期", kind="date"),
            Field("yxqz", "有效期至", kind="date"),
        ),
    ),
)

CATEGORIES: Mapping[str, Category] = {c.code: c for c in _ALL}
CATEGORY_CODES: tuple[str, ...] = tuple(CATEGORIES)
_BY_LABEL: Mapping[str, Category] = {c.label: c for c in _ALL}


def get_category(code_or_label: str) -> Category:
    """Look a category up by its code (``household_registration``) or Chinese label (``户籍``)."""
    category = CATEGORIES.get(code_or_label) or _BY_LABEL.get(code_or_label)
    if category is None:
        known = "、".join(c.label for c in _ALL)
        raise ValueError(f"未知的核查类别“{code_or_label}”，可选：{known}")
    return category

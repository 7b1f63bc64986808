"""What changed in a Big Data category since its previous successful snapshot.

Each category has a :class:`Rule`. Most categories hold a collection of records (vehicles,
enterprises, contracts …): records are matched across the two snapshots by their key fields,
so an added or removed record is named (``新增车辆 浙A·B1234``) and a matched record reports its
watched fields that changed (``车辆 浙A·B1234 机动车状态 正常→注销``). Marriage, identity card
and household registration describe one current state: the latest record is compared field by
field (``婚姻状况 未婚→已婚``, ``户籍 迁出``). Only watched fields count, so values that move
every month (最近缴费年月, 累计缴费月数) are not reported as changes.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from soar_ext.hooks.verification_page import EMPTY, NO_RECORD, Change, display_value

Record = Mapping[str, object]


@dataclass(frozen=True)
class Rule:
    """How one category's snapshots are compared.

    ``noun`` names a record in a change line; ``key`` labels identify a record across snapshots
    and ``title`` labels name it; ``watched`` labels are compared; ``context`` labels are shown
    beside a change. ``latest_by`` marks a one-state category: only its latest record (by that
    label) is compared. ``headlines`` replaces the default ``{field} {before}→{after}`` line of a
    watched field.
    """

    noun: str
    key: tuple[str, ...] = ()
    title: tuple[str, ...] = ()
    watched: tuple[str, ...] = ()
    context: tuple[str, ...] = ()
    latest_by: str | None = None
    headlines: Mapping[str, str] = field(default_factory=dict)


RULES: Mapping[str, Rule] = {
    "social_insurance": Rule(
        "社保参保", ("险种类型",), ("险种类型",), ("参保状态", "参保单位"), ("参保单位", "参保日期")
    ),
    "labour_contract": Rule(
        "劳动合同",
        ("统一社会信用代码", "合同起始日期"),
        ("用人单位",),
        ("合同状态", "合同终止日期"),
        ("合同起始日期", "合同期限类型"),
    ),
    "housing_fund": Rule(
        "公积金账户", ("个人账号",), ("缴存单位",), ("账户状态", "缴存单位", "缴存基数"), ("开户日期",)
    ),
    "vehicles": Rule("车辆", ("号牌号码",), ("号牌号码",), ("机动车状态",), ("车辆品牌", "初次登记日期")),
    "enterprises": Rule(
        "名下企业", ("统一社会信用代码",), ("企业名称",), ("任职类型", "登记状态"), ("任职类型", "成立日期")
    ),
    "marriage": Rule(
        "婚姻登记", watched=("婚姻状况",), context=("配偶姓名", "登记日期", "登记机关"), latest_by="登记日期"
    ),
    "identity_card": Rule(
        "身份证", watched=("住址", "有效期截止日期"), context=("签发机关",), latest_by="有效期起始日期"
    ),
    "student_status": Rule(
        "学籍", ("学校名称", "入学日期"), ("学校名称", "学历层次"), ("学籍状态",), ("专业", "入学日期")
    ),
    "qualification_certificates": Rule("职业资格证", ("证书编号",), ("证书名称", "等级"), ("等级",), ("发证日期",)),
    "professional_titles": Rule("职称", ("证书编号",), ("职称名称",), ("职称级别",), ("取得日期",)),
    "household_registration": Rule(
        "户籍",
        watched=("户籍状态", "户籍地址"),
        context=("变动日期", "变动说明"),
        latest_by="登记日期",
        headlines={"户籍状态": "户籍 {after}"},
    ),
    "residence_permit": Rule("居住证", ("居住证编号",), ("居住证编号",), ("证件状态", "有效期至"), ("居住地址",)),
}


def compare(category: str, before: Sequence[Record], after: Sequence[Record]) -> tuple[Change, ...]:
    """The changes from the ``before`` records (previous successful snapshot) to ``after``."""
    rule = RULES[category]
    if rule.latest_by is not None:
        return _compare_state(category, rule, _latest(before, rule.latest_by), _latest(after, rule.latest_by))
    return _compare_collection(category, rule, before, after)


def _latest(records: Sequence[Record], label: str) -> Record | None:
    if not records:
        return None
    ranked = sorted(enumerate(records), key=lambda item: (str(item[1].get(label) or ""), item[0]))
    return ranked[-1][1]


def _shown(record: Record | None, label: str) -> str:
    return NO_RECORD if record is None else display_value(label, record.get(label))


def _context(rule: Rule, record: Record | None) -> str:
    if record is None:
        return ""
    parts = ((label, display_value(label, record.get(label))) for label in rule.context)
    return "；".join(f"{label} {value}" for label, value in parts if value != EMPTY)


def _field_changes(
    category: str, rule: Rule, before: Record | None, after: Record | None, prefix: str = ""
) -> list[Change]:
    changes = []
    for label in rule.watched:
        old, new = _shown(before, label), _shown(after, label)
        if old == new:
            continue
        line = rule.headlines.get(label, "{field} {before}→{after}").format(field=label, before=old, after=new)
        changes.append(
            Change(category, "changed", prefix + line, before=old, after=new, detail=_context(rule, after or before))
        )
    return changes


def _compare_state(category: str, rule: Rule, before: Record | None, after: Record | None) -> tuple[Change, ...]:
    return tuple(_field_changes(category, rule, before, after))


def _key(rule: Rule, record: Record) -> str:
    values = [record.get(label) for label in rule.key]
    if all(v is None or v == "" for v in values):  # nothing identifies it: the whole record does
        return json.dumps(record, ensure_ascii=False, sort_keys=True, default=str)
    return json.dumps([None if v is None else str(v) for v in values], ensure_ascii=False)


def _title(rule: Rule, record: Record) -> str:
    parts = [display_value(label, record.get(label)) for label in rule.title]
    return " ".join(p for p in parts if p != EMPTY) or rule.noun


def _compare_collection(
    category: str, rule: Rule, before: Sequence[Record], after: Sequence[Record]
) -> tuple[Change, ...]:
    old_by_key: dict[str, list[Record]] = defaultdict(list)
    for record in before:
        old_by_key[_key(rule, record)].append(record)
    changes: list[Change] = []
    for record in after:
        matches = old_by_key.get(_key(rule, record))
        if matches:
            previous = matches.pop(0)
            changes += _field_changes(category, rule, previous, record, prefix=f"{rule.noun} {_title(rule, record)} ")
        else:
            text = f"新增{rule.noun} {_title(rule, record)}"
            changes.append(Change(category, "added", text, detail=_context(rule, record)))
    for leftovers in old_by_key.values():
        for record in leftovers:
            text = f"减少{rule.noun} {_title(rule, record)}"
            changes.append(Change(category, "removed", text, detail=_context(rule, record)))
    return tuple(changes)

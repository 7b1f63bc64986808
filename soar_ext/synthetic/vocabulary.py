"""Word lists for synthetic Hangzhou data: names, streets, employers, project names, phone numbers."""

from __future__ import annotations

import random
import re
from typing import Final

from soar_ext.db.codes import DISTRICTS, Gender

# Common surnames with relative weights, roughly by frequency in Zhejiang.
_SURNAME_TABLE: Final = """
王70 李55 张55 陈75 刘40 杨30 黄30 吴45 赵22 周35 徐40 孙20 朱30 胡30 沈30 郭12 何18 高14 林20 罗10
郑18 梁8 谢12 宋10 唐10 许15 韩8 冯10 邓6 曹10 彭6 曾5 肖6 田5 董10 袁8 潘12 蒋14 蔡10 余12 杜6 叶18
程8 苏6 魏6 吕8 丁8 任5 姚10 卢6 姜6 钟6 陆14 汪12 范6 金14 方12 俞10 毛8 楼6 应6 戴6 钱8 严6 章8 邵6
孔4 顾6 施6 倪5 欧阳1 司马1 诸葛1 上官1
"""
_SURNAME_ENTRIES: Final = tuple(re.findall(r"(\D+?)(\d+)", "".join(_SURNAME_TABLE.split())))
SURNAMES: Final[tuple[str, ...]] = tuple(name for name, _ in _SURNAME_ENTRIES)
_SURNAME_WEIGHTS: Final = tuple(int(weight) for _, weight in _SURNAME_ENTRIES)

_GIVEN_MALE: Final = "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆帅旭宁龙林洋毅晨昊睿哲航建国峰志成"
_GIVEN_FEMALE: Final = "芳娜敏静丽艳娟霞秀玲燕红梅莉婷雪琳晶颖倩洁萍琴云蕾欣怡佳悦彤璐瑶诗涵梦婉雅慧"
_GIVEN_ANY: Final = "文子嘉思一可晓天雨欣然安乐明华春秋海江"


def surname(rng: random.Random) -> str:
    """A surname drawn by frequency; about 1 in 250 is a two-character one (欧阳, 司马 …)."""
    return rng.choices(SURNAMES, weights=_SURNAME_WEIGHTS)[0]


def given_name(rng: random.Random, gender: str) -> str:
    """A one- or two-character given name fitting the gender code."""
    pool = _GIVEN_MALE if gender == Gender.MALE else _GIVEN_FEMALE
    if rng.random() < 0.25:
        return rng.choice(pool)
    return rng.choice(pool + _GIVEN_ANY) + rng.choice(pool)


# Names as they sometimes arrive from data entry or migrated records: with a stray % or _. They
# exercise the name filters, which must take both characters literally (not as LIKE wildcards).
_DATA_ENTRY_VARIANTS: Final = (
    lambda name: name + "%",
    lambda name: name[:1] + "_" + name[1:],
    lambda name: "%" + name,
    lambda name: "_" + name,
    lambda name: name[:1] + "%" + name[1:],
    lambda name: name + "_",
)
DATA_ENTRY_NAME_COUNT: Final = len(_DATA_ENTRY_VARIANTS)


def data_entry_name(name: str, n: int) -> str:
    """The ``n``-th data-entry variant of a name (a ``%`` or ``_`` inserted), cycling through them."""
    return _DATA_ENTRY_VARIANTS[n % len(_DATA_ENTRY_VARIANTS)](name)


# Streets and roads per district (real names).
STREETS: Final[dict[str, tuple[str, ...]]] = {
    "330102": ("解放路", "延安路", "望江路", "凤起东路", "秋涛路", "景芳路", "钱江路", "九堡大道", "丁桥路"),
    "330105": ("湖墅南路", "莫干山路", "大关路", "上塘路", "石祥路", "和睦路", "长城街", "半山路"),
    "330106": ("文三路", "文一西路", "古墩路", "天目山路", "西溪路", "三墩路", "留和路", "之江路"),
    "330108": ("江南大道", "滨盛路", "长河路", "江虹路", "西兴路", "浦沿路", "秋溢路"),
    "330109": ("市心路", "人民路", "金城路", "山阴路", "博奥路", "宁围路", "建设一路"),
    "330110": ("文一西路", "良渚路", "五常大道", "闲林路", "瓶窑路", "仓前街", "舒心路"),
    "330111": ("迎宾北路", "金桥北路", "江滨西大道", "桂花路", "银湖街"),
    "330112": ("钱王街", "衣锦街", "城中街", "苕溪北街", "大园路"),
    "330113": ("迎宾路", "临平大道", "星桥路", "永玄路", "沿山路"),
    "330114": ("学林街", "文泽路", "下沙路", "义蓬路", "纬六路"),
}

# Plate areas per district for public-rental project names.
PROJECT_PLACES: Final[dict[str, tuple[str, ...]]] = {
    "330102": ("丁桥", "九堡", "彭埠", "景芳", "笕桥", "三堡"),
    "330105": ("大关", "半山", "杨家墩", "东新园", "长睦", "祥符"),
    "330106": ("田园", "三墩", "蒋村", "转塘", "西溪", "留下"),
    "330108": ("浦沿", "长河", "西兴", "江村", "东信"),
    "330109": ("宁围", "新街", "瓜沥", "北干", "城厢"),
    "330110": ("良渚", "闲林", "仓前", "勾庄", "五常", "瓶窑"),
    "330111": ("银湖", "东洲", "富春"),
    "330112": ("青山湖", "锦南", "玲珑"),
    "330113": ("乔司", "崇贤", "星桥", "南苑"),
    "330114": ("下沙", "白杨", "义蓬", "河庄"),
}
PROJECT_SUFFIXES: Final = ("公租房", "公寓", "人才公寓", "家园", "苑", "公共租赁住房")

_EMPLOYER_WORDS: Final = (
    "西湖",
    "钱塘",
    "之江",
    "运河",
    "天堂",
    "东信",
    "恒润",
    "华盛",
    "新锐",
    "瑞丰",
    "众诚",
    "博远",
    "阿拉",
    "云栖",
    "海创",
    "启明",
    "远景",
    "同力",
    "万向",
    "联合",
)
_EMPLOYER_KINDS: Final = (
    "科技有限公司",
    "网络科技有限公司",
    "物业管理有限公司",
    "贸易有限公司",
    "建设工程有限公司",
    "餐饮管理有限公司",
    "物流有限公司",
    "电子商务有限公司",
    "服装有限公司",
    "信息技术有限公司",
)
_PUBLIC_EMPLOYERS: Final = (
    "社区卫生服务中心",
    "第一人民医院",
    "实验小学",
    "街道办事处",
    "环境卫生管理处",
    "公交集团",
    "市政工程处",
)


def district_name(code: str) -> str:
    """Chinese name of a Hangzhou district code."""
    return DISTRICTS[code]


def street_address(rng: random.Random, district: str) -> str:
    """A residential address in a Hangzhou district, e.g. ``杭州市西湖区文三路128号3幢2单元501室``."""
    street = rng.choice(STREETS[district])
    return (
        f"杭州市{DISTRICTS[district]}{street}{rng.randint(1, 999)}号"
        f"{rng.randint(1, 30)}幢{rng.randint(1, 4)}单元{rng.randint(1, 25)}{rng.randint(1, 4):02d}室"
    )


def origin_address(rng: random.Random, place: str) -> str:
    """A household-registration address outside Hangzhou, e.g. ``温州市鹿城区人民路12号``."""
    road = rng.choice(("人民路", "解放路", "中山路", "建设路", "新华路", "胜利路", "和平村", "新民村"))
    return f"{place}{road}{rng.randint(1, 300)}号"


def employer(rng: random.Random, district: str) -> str:
    """A plausible Hangzhou employer name."""
    if rng.random() < 0.2:
        return f"杭州市{DISTRICTS[district]}{rng.choice(_PUBLIC_EMPLOYERS)}"
    return f"杭州{rng.choice(_EMPLOYER_WORDS)}{rng.choice(_EMPLOYER_KINDS)}"


_MOBILE_PREFIXES: Final = ("13", "15", "17", "18", "19")


def mobile_number(rng: random.Random) -> str:
    """An 11-digit mainland mobile number."""
    return rng.choice(_MOBILE_PREFIXES) + f"{rng.randrange(10**9):09d}"


INSPECTORS: Final = ("陈建华", "王立新", "张海燕", "李志强", "周国平", "徐慧敏", "沈佳琪", "吴晓东", "欧阳明", "蒋文斌")
"""Inspection staff (验房人员) of the exchange platform."""

INSPECTION_PASSED: Final = (
    "房屋结构及设施设备完好，验房通过",
    "水电气表读数已确认，门窗设施完好，验房通过",
    "墙面、地面无损坏，家具家电齐全，验房通过",
)
INSPECTION_FAILED: Final = (
    "卫生间渗水，需整改后复验",
    "墙面私自开洞，需恢复原状后复验",
    "燃气灶缺失，需补齐后复验",
    "拖欠水电费未结清，结清后复验",
)

DEVELOPERS: Final = (
    "杭州滨江房产集团股份有限公司",
    "绿城房地产集团有限公司",
    "杭州万科房地产有限公司",
    "中天美好集团有限公司",
    "杭州市城市建设投资集团有限公司",
    "杭州西湖城市建设投资集团有限公司",
    "浙江大家房地产集团有限公司",
    "杭州余杭城市建设集团有限公司",
    "萧山城市建设投资集团有限公司",
    "杭州钱塘新区建设投资集团有限公司",
)

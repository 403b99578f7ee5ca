"""The casework CSV export for the civil affairs bureau has every coded column in
Chinese, the codes kept in columns of their own after the others (issue 26, item 7): on
the real store, through the API."""

from services.casework.domain import export as domain_export
from tests.integration.test_casework_export import period, rows
from tests.integration.test_casework_export import stations as stations
from tests.integration.test_casework_export import tokens as tokens


def test_every_coded_column_is_in_chinese_and_its_codes_are_beside_it(stations, tokens):
    store, client = stations
    table = rows(client.get(f"/v1/cases/export?{period()}", headers=tokens["head"]))
    header, lines = table[0], table[1:]
    assert header[:15] == [title for _, title in domain_export.COLUMNS[:15]]  # as before
    assert header[15:] == [
        "站点代码",
        "状态代码",
        "优先级代码",
        "需求类型代码",
        "服务对象类别代码",
        "超时环节代码",
    ]
    zou = dict(zip(header, next(line for line in lines if line[0] == "case-0"), strict=True))
    case, _ = store.get("case-0")
    assert zou["站点"] == "大兴镇社会工作服务站" and zou["站点代码"] == "daxing"
    assert zou["需求类型"] == "上门探访" and zou["需求类型代码"] == "home_visit"
    assert zou["服务对象类别"] == "老年人" and zou["服务对象类别代码"] == "elderly"
    assert (
        zou["状态代码"] == case.status
        and zou["状态"] == {"received": "已登记", "assigned": "已派单"}[case.status]
    )
    assert zou["优先级代码"] == case.priority and zou["优先级"] in ("紧急", "一般", "较低")
    # no English code left in a column the bureau reads
    for line in lines:
        for title, cell in zip(header[:15], line[:15], strict=True):
            if title in ("站点", "状态", "优先级", "需求类型", "服务对象类别", "超时环节"):
                assert not any("a" <= ch <= "z" for ch in cell), (title, cell)

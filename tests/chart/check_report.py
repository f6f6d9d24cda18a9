"""Checks a workbook written by workers/chart/report_xlsx.c against expectations.

Usage: /usr/bin/python3 check_report.py WORKBOOK.xlsx EXPECTED.json
The expectations (written by tests/chart/report_xlsx_test.c) list the sheet names, the Summary
rows and, per series sheet, the header, the rows and the number of chart series. Exits 0 when
everything matches; otherwise prints every mismatch and exits 1.
"""
import datetime
import json
import math
import sys

import openpyxl

problems = []


def fail(msg):
    problems.append(msg)


def same_number(got, want):
    if want is None:
        return got is None
    if not isinstance(got, (int, float)) or isinstance(got, bool):
        return False
    return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9)


def main():
    path, expected_path = sys.argv[1], sys.argv[2]
    with open(expected_path, encoding="utf-8") as f:
        exp = json.load(f)
    wb = openpyxl.load_workbook(path)  # charts are read only in the default (not read-only) mode
    if wb.sheetnames != exp["sheets"]:
        fail(f"sheet names {wb.sheetnames!r} != {exp['sheets']!r}")

    ws = wb["Summary"]
    rows = list(ws.iter_rows(values_only=True))
    if list(rows[0]) != ["Series", "Method", "Model", "MASE", "sMAPE", "RMSE", "Error", "Sheet"]:
        fail(f"summary header {rows[0]!r}")
    if len(rows) - 1 != len(exp["summary"]):
        fail(f"summary has {len(rows) - 1} rows, want {len(exp['summary'])}")
    for i, (got, want) in enumerate(zip(rows[1:], exp["summary"])):
        for col in (0, 1, 2, 6, 7):
            if got[col] != want[col]:
                fail(f"summary row {i + 1} col {col}: {got[col]!r} != {want[col]!r}")
        for col in (3, 4, 5):
            if not same_number(got[col], want[col]):
                fail(f"summary row {i + 1} col {col}: {got[col]!r} != {want[col]!r}")
        if want[7]:
            link = ws.cell(row=i + 2, column=8).hyperlink
            if link is None or want[7] not in (link.location or ""):
                fail(f"summary row {i + 1}: no internal link to {want[7]!r}")

    for name, sheet in exp["series"].items():
        if name not in wb.sheetnames:
            continue
        ws = wb[name]
        rows = list(ws.iter_rows(values_only=True))
        if list(rows[0]) != sheet["header"]:
            fail(f"{name}: header {rows[0]!r} != {sheet['header']!r}")
        data = rows[1:]
        if len(data) != len(sheet["rows"]):
            fail(f"{name}: {len(data)} rows, want {len(sheet['rows'])}")
        for r, (got, want) in enumerate(zip(data, sheet["rows"])):
            d = got[0]
            if sheet["dates_are_dates"]:
                if not isinstance(d, datetime.datetime):
                    fail(f"{name} row {r + 2}: date cell is {type(d).__name__}, not a date")
                    break
                if ws.cell(row=r + 2, column=1).number_format != "yyyy-mm-dd":
                    fail(f"{name} row {r + 2}: date format "
                         f"{ws.cell(row=r + 2, column=1).number_format!r}")
                    break
                d = d.date().isoformat()
            if d != want[0]:
                fail(f"{name} row {r + 2}: date {d!r} != {want[0]!r}")
            for c in range(1, len(want)):
                g = got[c] if c < len(got) else None
                if not same_number(g, want[c]):
                    fail(f"{name} row {r + 2} col {c + 1}: {g!r} != {want[c]!r}")
                    break
        charts = ws._charts
        if sheet["chart_series"] == 0:
            if charts:
                fail(f"{name}: unexpected chart")
            continue
        if len(charts) != 1:
            fail(f"{name}: {len(charts)} charts, want 1")
            continue
        chart = charts[0]
        if type(chart).__name__ != "LineChart":
            fail(f"{name}: chart is a {type(chart).__name__}, not a LineChart")
        if len(chart.series) != sheet["chart_series"]:
            fail(f"{name}: chart has {len(chart.series)} series, want {sheet['chart_series']}")
        # Series k plots column k+2 (B, C, ...) over the data rows, against the Date column,
        # and takes its name from the header cell.
        last = len(sheet["rows"]) + 1
        quoted = "'" + name.replace("'", "''") + "'"
        for k, ser in enumerate(chart.series):
            col = "BCDEFGHIJKLMNOPQRSTUVWXYZ"[k]
            ref = ser.val.numRef.f if ser.val and ser.val.numRef else None
            if ref not in (f"{quoted}!${col}$2:${col}${last}", f"{name}!${col}$2:${col}${last}"):
                fail(f"{name}: chart series {k} values {ref!r}")
            cat = ser.cat.numRef or ser.cat.strRef if ser.cat else None
            if cat is None or not cat.f.endswith(f"!$A$2:$A${last}"):
                fail(f"{name}: chart series {k} categories {cat.f if cat else None!r}")
            if not (ser.tx and ser.tx.strRef and ser.tx.strRef.f.endswith(f"!${col}$1")):
                fail(f"{name}: chart series {k} is not named by its header cell")

    for p in problems:
        print(p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()

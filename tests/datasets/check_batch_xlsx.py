"""Checks the workbook of GET /v1/batches/{id}/results.xlsx against the batch's JSON results
and the CSV the dataset was uploaded from.

Usage: /usr/bin/python3 check_batch_xlsx.py WORKBOOK.xlsx RESULTS.json DATA.csv
RESULTS.json is the body of GET /v1/batches/{id}/results. Checks: a Summary sheet with one row
per result (series, method, model, accuracy, error); one sheet per succeeded series whose rows
are the CSV history (real dates, numbers) then the forecast and its interval bounds; a native
line chart on each series sheet. Exits 0 when everything matches, else prints each mismatch
and exits 1.
"""
import csv
import datetime
import json
import math
import sys

import openpyxl
from openpyxl.chart import LineChart

problems = []


def fail(msg):
    problems.append(msg)


def close(got, want):
    if want is None:
        return got is None
    if not isinstance(got, (int, float)) or isinstance(got, bool):
        return False
    return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9)


def as_date(s):
    return datetime.datetime.strptime(s, "%Y-%m-%d")


def main():
    book, results_path, csv_path = sys.argv[1:4]
    with open(results_path, encoding="utf-8") as f:
        results = json.load(f)["results"]
    with open(csv_path, encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header, data = rows[0], rows[1:]
    wb = openpyxl.load_workbook(book)  # charts are only read outside read-only mode

    names = [r["name"] for r in results]
    want_sheets = ["Summary"] + [r["name"] for r in results if r["state"] == "succeeded"]
    if wb.sheetnames != want_sheets:
        fail(f"sheets {wb.sheetnames!r} != {want_sheets!r}")

    summary = list(wb["Summary"].iter_rows(values_only=True))
    if list(summary[0][:7]) != ["Series", "Method", "Model", "MASE", "sMAPE", "RMSE", "Error"]:
        fail(f"summary header {summary[0]!r}")
    if len(summary) - 1 != len(results):
        fail(f"summary has {len(summary) - 1} rows for {len(results)} results")
    for row, r in zip(summary[1:], results):
        res = r["result"] or {}
        acc = res.get("accuracy") or {}
        if row[0] != r["name"]:
            fail(f"summary series {row[0]!r} != {r['name']!r}")
        if r["state"] == "succeeded":
            if row[1] != res.get("method") or row[2] != res.get("model"):
                fail(f"{r['name']}: summary method/model {row[1]!r}/{row[2]!r}")
            for col, key in ((3, "mase"), (4, "smape"), (5, "rmse")):
                if acc.get(key) is not None and not close(row[col], acc[key]):
                    fail(f"{r['name']}: summary {key} {row[col]!r} != {acc[key]!r}")
            if row[6] not in (None, ""):
                fail(f"{r['name']}: summary error {row[6]!r} for a success")
        elif not row[6]:
            fail(f"{r['name']}: a failed series without its error in the summary")

    for r in results:
        if r["state"] != "succeeded" or r["name"] not in wb.sheetnames:
            continue
        name, res = r["name"], r["result"]
        ws = wb[name]
        got = list(ws.iter_rows(values_only=True))
        levels = sorted(res["intervals"], key=float)
        want_header = ["Date", "Actual", "Forecast"]
        for lv in levels:
            want_header += [f"Lo {lv}", f"Hi {lv}"]
        if list(got[0]) != want_header:
            fail(f"{name}: header {got[0]!r} != {want_header!r}")
        k = header.index(name)
        # Expected rows by date: the CSV history (blank where missing), then the forecast;
        # a forecast date equal to a history date (trailing missing values, which the
        # forecast starts from) shares its row.
        want = {}
        for d in data:
            want[as_date(d[0])] = [float(d[k]) if d[k].strip() else None, None] + \
                [None] * (2 * len(levels))
        for h, date in enumerate(res["dates"]):
            row = want.setdefault(as_date(date), [None] * (2 + 2 * len(levels)))
            if row[0] is not None:
                fail(f"{name}: forecast date {date} has an observed value")
            row[1] = res["point"][h]
            for j, lv in enumerate(levels):
                row[2 + 2 * j] = res["intervals"][lv]["lower"][h]
                row[3 + 2 * j] = res["intervals"][lv]["upper"][h]
        dates = sorted(want)
        if len(got) - 1 != len(dates):
            fail(f"{name}: {len(got) - 1} rows, want {len(dates)}")
            continue
        for i, date in enumerate(dates):
            row = got[1 + i]
            if not isinstance(row[0], datetime.datetime) or row[0] != date:
                fail(f"{name} row {i + 2}: date {row[0]!r} != {date}")
                break
            if any(not close(g, w) for g, w in zip(row[1:], want[date])):
                fail(f"{name} row {i + 2}: {row[1:]!r} != {want[date]!r}")
                break
        if ws.cell(row=2, column=1).number_format != "yyyy-mm-dd":
            fail(f"{name}: date format {ws.cell(row=2, column=1).number_format!r}")
        charts = ws._charts
        if len(charts) != 1 or not isinstance(charts[0], LineChart):
            fail(f"{name}: charts {charts!r}, want one line chart")
        elif len(charts[0].series) != 2 + 2 * len(levels):
            fail(f"{name}: chart has {len(charts[0].series)} series, "
                 f"want {2 + 2 * len(levels)} (history, forecast, bounds)")

    if set(names) != set(r["name"] for r in results) or len(names) == 0:
        fail("no results")
    for p in problems:
        print(p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()

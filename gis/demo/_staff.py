"""The demo's people: grid managers, community workers and mediators at Kuiwen's ratios.

Names are plausible and phone numbers visibly made up (170-0000-xxxx), so that
nobody real is named or called.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gis.demo.spec import (
    HOUSEHOLDS_PER_MANAGER,
    HOUSEHOLDS_PER_WORKER,
)

_SURNAMES = (
    "王李张刘孙赵陈杨高马徐郭于宋郑韩吕丁曹崔董田冯任周吴胡朱林何罗梁谢唐许邓袁魏蒋"
    "姜范邱石秦苏潘葛卢单付孟侯臧隋"
)
_SURNAME_WEIGHTS = np.array([12 if i < 6 else 6 if i < 16 else 2 for i in range(len(_SURNAMES))])
_GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍鹏辉玲燕红建国志文斌宁"
    "婷雪梅凤琳晶晓东海波慧颖欣悦浩宇帅瑞鑫璐嘉怡佳"
)
#: A-post specialist duties (seed 002's AB posts) of community workers.
SPECIALIST_DUTIES = ("民政", "综治", "城管", "计生", "党建", "社保", "残联", "退役军人", "信访")


def _person_names(n: int, rng: np.random.Generator) -> list[str]:
    """``n`` plausible Chinese names: a common surname and one or two given characters."""
    p = _SURNAME_WEIGHTS / _SURNAME_WEIGHTS.sum()
    surnames = rng.choice(len(_SURNAMES), n, p=p)
    lengths = np.where(rng.random(n) < 0.7, 2, 1)
    given = rng.integers(0, len(_GIVEN), (n, 2))
    return [
        _SURNAMES[s] + "".join(_GIVEN[g] for g in given[i, : lengths[i]])
        for i, s in enumerate(surnames)
    ]


def _fake_phone(index: int) -> str:
    """A sequential number in the 170-0000 block: visibly made up, so nobody is called."""
    return f"170-0000-{index:04d}"


def make_staff(
    grids: pd.DataFrame, communities: pd.DataFrame, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Grid managers (1 per 200 households), community workers (1 per 300) and mediators.

    Every grid gets a primary manager and the largest grids a second one; each
    grid's first manager also stands in for the next grid of the community, so a
    manager covers one or two grids. Community workers hold the B post of one
    grid and, most of them, an A-post specialist duty.
    """
    staff: list[dict[str, object]] = []
    links: list[dict[str, object]] = []

    def person(role: str, community: str, duty: str | None = None) -> str:
        key = f"S{len(staff) + 1:05d}"
        staff.append(
            {
                "staff_key": key,
                "phone": _fake_phone(len(staff) + 1),
                "role": role,
                "specialist_duty": duty,
                "community_code": community,
            }
        )
        return key

    by_comm = {
        code: sorted(zip(g["code"], g["households"], strict=True))
        for code, g in grids.groupby("community_code", sort=True)
    }
    for comm in communities["code"]:
        cg = by_comm[comm]
        codes = [code for code, _ in cg]
        households = sum(int(h) for _, h in cg)
        managers = max(len(codes), round(households / HOUSEHOLDS_PER_MANAGER))
        by_size = [code for code, _ in sorted(cg, key=lambda ch: (-ch[1], ch[0]))]
        first_manager: dict[str, str] = {}
        for code in codes:
            first_manager[code] = person("grid_manager", comm)
            links.append({"staff_key": first_manager[code], "grid_code": code, "is_primary": True})
        for i in range(managers - len(codes)):
            key = person("grid_manager", comm)
            links.append(
                {"staff_key": key, "grid_code": by_size[i % len(by_size)], "is_primary": True}
            )
        if len(codes) > 1:
            for i, code in enumerate(codes):
                links.append(
                    {
                        "staff_key": first_manager[code],
                        "grid_code": codes[(i + 1) % len(codes)],
                        "is_primary": False,
                    }
                )
        workers = max(1, round(households / HOUSEHOLDS_PER_WORKER))
        duties = rng.permutation(len(SPECIALIST_DUTIES))
        with_duty = rng.random(workers) < 0.6
        for i in range(workers):
            duty = SPECIALIST_DUTIES[duties[i % len(duties)]] if with_duty[i] else None
            key = person("community_worker", comm, duty)
            links.append(
                {"staff_key": key, "grid_code": codes[i % len(codes)], "is_primary": False}
            )
        person("mediator", comm)
    frame = pd.DataFrame(staff)
    frame.insert(1, "name", _person_names(len(frame), rng))
    return frame, pd.DataFrame(links)

"""The field app's words: one table per language, for its templates and its scripts alike.

Chinese by default; ``?lang=en`` switches to English and is kept in the cookie
``gm_lang`` (``?lang=zh`` switches back). Each page hands its language's table
to its template (``t``) and to its script (``config.t``), so a word is written
once. The workflow's states and steps read as ``layers.incidents`` names them
in Chinese; the English names are here.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import Request, Response

from gis.areas.codes import Level
from gis.incidents.workflow import Action, State
from layers.incidents import ACTION_LABELS_ZH, STATE_LABELS_ZH

Lang = Literal["zh", "en"]
LANG_COOKIE = "gm_lang"
LANG_COOKIE_MAX_AGE_S = 365 * 24 * 3600

_ZH: dict[str, str] = {
    "html_lang": "zh-CN",
    "app_name": "网格通",
    "my_grid": "我的网格",
    "grid_not_found": "找不到该网格",
    "inbox": "待办",
    "inbox_title": "待办案件",
    "report": "上报",
    "report_title": "上报事件",
    "case": "案件",
    "map": "地图",
    "list": "列表",
    "other_lang": "English",
    "households": "户",
    "buildings": "楼栋",
    "facilities": "周边设施",
    "manager": "网格员",
    "open_cases": "待办 {n} 件",
    "overdue_cases": "超期 {n} 件",
    "no_open": "暂无待办案件",
    "overdue": "已超期",
    "remaining": "剩余",
    "no_deadline": "未计时",
    "due": "期限",
    "reported_at": "上报时间",
    "handler": "处置人",
    "escalated_to": "已上报至{level}",
    "urged": "督办",
    "month": "本月",
    "month_received": "受理",
    "month_closed": "结案",
    "month_on_time": "按期结案率",
    "month_avg": "社区平均",
    "loading": "正在加载…",
    "load_failed": "加载失败：{error}",
    "offline_cached": "无网络：显示的是上次保存的数据",
    "queue": "待发送 {n} 件",
    "queue_sending": "正在发送…",
    "queue_hint": "网络恢复后自动发送",
    "conflict": "冲突",
    "conflict_text": "该案件已被他人更新，您的操作未提交。",
    "conflict_now": "现在的状态：{status}（版本 {version}）",
    "conflict_last": "最近一步：{step}",
    "your_note": "您填写的说明（已保留）",
    "retry": "按最新状态重新提交",
    "discard": "放弃",
    "sent": "已发送",
    "queued": "无网络，已保存，网络恢复后自动发送",
    "failed": "提交失败：{error}",
    "history": "处理记录",
    "photos": "照片",
    "no_photos": "暂无照片",
    "add_photos": "拍照 / 选择照片",
    "actions": "可办理",
    "no_actions": "您目前对此案件没有可办理的操作",
    "note": "说明",
    "note_required": "{action}须填写说明",
    "note_optional": "说明（选填）",
    "confirm": "确认",
    "cancel": "取消",
    "choose_handler": "请选择处置人",
    "choose_unit": "请选择交办的责任单位",
    "rating": "评价结果",
    "rating_satisfied": "满意",
    "rating_basically_satisfied": "基本满意",
    "rating_unsatisfied": "不满意",
    "category": "类别",
    "subcategory": "小类",
    "choose_category": "请选择类别",
    "choose_subcategory": "（不细分）",
    "description": "描述",
    "description_hint": "发生了什么、在哪里（门牌、楼栋）",
    "location": "位置",
    "tap_map": "在地图上点选位置，或使用“我的位置”",
    "my_location": "我的位置",
    "locating": "正在定位…",
    "located": "已定位（WGS84，精度约 {m} 米）",
    "locate_failed": "无法定位：{error}",
    "datum_note": "“我的位置”来自手机定位，坐标系为 WGS84；地图点选按地图的坐标系发送。",
    "picked": "已选位置：{lon}, {lat}",
    "no_location": "请先在地图上点选位置或使用“我的位置”",
    "no_category": "请选择类别",
    "submit": "提交上报",
    "reported": "已上报，案件编号 #{id}",
    "photos_pending": "照片将随案件发送",
    "masked": "此案件含个人信息，您看到的是隐藏后的内容",
    "not_found": "找不到该案件，或不在您的负责范围内",
    "logout_pending": "还有 {n} 件未发送，退出后将丢失。仍要退出吗？",
    "all_grids": "全部网格",
    "status": "状态",
    "level": "层级",
    "open_case": "查看",
}

_EN: dict[str, str] = {
    "html_lang": "en",
    "app_name": "Grid app",
    "my_grid": "My grid",
    "grid_not_found": "Grid not found",
    "inbox": "Inbox",
    "inbox_title": "Cases to act on",
    "report": "Report",
    "report_title": "Report an incident",
    "case": "Case",
    "map": "Map",
    "list": "List",
    "other_lang": "中文",
    "households": "households",
    "buildings": "Buildings",
    "facilities": "Facilities nearby",
    "manager": "Grid manager",
    "open_cases": "{n} open",
    "overdue_cases": "{n} overdue",
    "no_open": "Nothing to act on",
    "overdue": "Overdue",
    "remaining": "left",
    "no_deadline": "Clock not started",
    "due": "Due",
    "reported_at": "Reported",
    "handler": "Handler",
    "escalated_to": "Escalated to {level}",
    "urged": "Urged",
    "month": "This month",
    "month_received": "Received",
    "month_closed": "Closed",
    "month_on_time": "On time",
    "month_avg": "Community average",
    "loading": "Loading…",
    "load_failed": "Could not load: {error}",
    "offline_cached": "No connection: showing the data saved last time",
    "queue": "{n} waiting to send",
    "queue_sending": "Sending…",
    "queue_hint": "Sent automatically when the connection returns",
    "conflict": "Conflict",
    "conflict_text": "Someone else updated this case; your step was not taken.",
    "conflict_now": "Now: {status} (version {version})",
    "conflict_last": "Last step: {step}",
    "your_note": "Your note (kept)",
    "retry": "Send again on the current state",
    "discard": "Discard",
    "sent": "Sent",
    "queued": "No connection: saved, and sent when the connection returns",
    "failed": "Not sent: {error}",
    "history": "History",
    "photos": "Photos",
    "no_photos": "No photos",
    "add_photos": "Take / choose photos",
    "actions": "Actions",
    "no_actions": "You have no step to take on this case now",
    "note": "Note",
    "note_required": "{action} needs a note",
    "note_optional": "Note (optional)",
    "confirm": "Confirm",
    "cancel": "Cancel",
    "choose_handler": "Choose the handler",
    "choose_unit": "Choose the unit to hand the case to",
    "rating": "Rating",
    "rating_satisfied": "Satisfied",
    "rating_basically_satisfied": "Basically satisfied",
    "rating_unsatisfied": "Unsatisfied",
    "category": "Category",
    "subcategory": "Subcategory",
    "choose_category": "Choose a category",
    "choose_subcategory": "(none)",
    "description": "Description",
    "description_hint": "What happened, where (number, building)",
    "location": "Location",
    "tap_map": "Tap the map, or use “My location”",
    "my_location": "My location",
    "locating": "Locating…",
    "located": "Located (WGS84, about {m} m)",
    "locate_failed": "Could not locate: {error}",
    "datum_note": "“My location” comes from the phone (WGS84); a tap is sent in the map's datum.",
    "picked": "Chosen: {lon}, {lat}",
    "no_location": "Tap the map or use “My location” first",
    "no_category": "Choose a category",
    "submit": "Send report",
    "reported": "Reported: case #{id}",
    "photos_pending": "Photos are sent with the case",
    "masked": "This case holds personal data: you see it hidden",
    "not_found": "No such case, or not one you cover",
    "logout_pending": "{n} not sent yet will be lost if you log out. Log out anyway?",
    "all_grids": "All grids",
    "status": "Status",
    "level": "Level",
    "open_case": "Open",
}

STATE_LABELS_EN: dict[State, str] = {
    State.REPORTED: "Reported",
    State.ACCEPTED: "Accepted",
    State.DISPATCHED: "Dispatched",
    State.HANDLED: "Handled",
    State.FEEDBACK: "Reported back",
    State.CLOSED: "Closed",
    State.EVALUATED: "Evaluated",
    State.CANCELLED: "Cancelled",
}
ACTION_LABELS_EN: dict[str, str] = {
    "accept": "Accept",
    "cancel": "Cancel",
    "dispatch": "Dispatch",
    "redispatch": "Redispatch",
    "handle": "Handle",
    "feedback": "Report back",
    "verify": "Verify and close",
    "rework": "Send back",
    "evaluate": "Evaluate",
    "escalate": "Escalate",
    "urge": "Urge",
    "hand_over": "Hand over to a unit",
    "settle": "Settled on the spot",
}
HISTORY_ACTIONS_ZH: dict[str, str] = {
    **{a.value: a.name_zh for a in Action},
    "reported": "上报",
    "merge": "合并重复",
    "urge": "督办",
}
"""A history step in Chinese (立案 for accept, as the standard names it), until the history
answer carries ``action_zh`` itself."""
HISTORY_ACTIONS_EN: dict[str, str] = {
    **ACTION_LABELS_EN,
    "accept": "Accepted",
    "reported": "Reported",
    "merge": "Merged as duplicate",
}
SOURCES_ZH = {
    "hotline": "12345热线",
    "patrol": "网格员巡查",
    "app": "群众APP上报",
    "video": "视频监控发现",
    "visit": "群众来访",
    "open311": "市民服务平台",
}
"""Where a report came from, as the history's first line names it."""
SOURCES_EN = {
    "hotline": "12345 hotline",
    "patrol": "grid manager's patrol",
    "app": "resident's app",
    "video": "video surveillance",
    "visit": "visit in person",
    "open311": "city service platform",
}
LEVELS_EN = {"grid": "grid", "community": "community", "subdistrict": "subdistrict",
             "district": "district"}  # fmt: skip


def _tables(lang: Lang) -> dict[str, Any]:
    if lang == "en":
        return {
            "states": {s.value: STATE_LABELS_EN[s] for s in State},
            "buttons": ACTION_LABELS_EN,
            "steps": HISTORY_ACTIONS_EN,
            "levels": LEVELS_EN,
            "sources": SOURCES_EN,
        }
    return {
        "states": {s.value: STATE_LABELS_ZH[s] for s in State},
        "buttons": {**{a.value: label for a, label in ACTION_LABELS_ZH.items()}, "urge": "督办"},
        "steps": HISTORY_ACTIONS_ZH,
        "levels": {level.value: level.name_zh for level in Level},
        "sources": SOURCES_ZH,
    }


def strings(lang: Lang) -> dict[str, Any]:
    """Everything the app writes in ``lang``: words, states, buttons, history steps, levels."""
    return {**(_EN if lang == "en" else _ZH), **_tables(lang)}


def lang_of(request: Request) -> Lang:
    """``?lang=`` if given, else the ``gm_lang`` cookie, else Chinese."""
    asked = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    return "en" if asked == "en" else "zh"


def keep_lang(request: Request, response: Response) -> None:
    """Remember a ``?lang=`` choice in the cookie."""
    asked = request.query_params.get("lang")
    if asked in ("en", "zh"):
        response.set_cookie(
            LANG_COOKIE, asked, max_age=LANG_COOKIE_MAX_AGE_S, path="/", samesite="lax"
        )


__all__ = ["LANG_COOKIE", "Lang", "keep_lang", "lang_of", "strings"]

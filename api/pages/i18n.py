"""The pages speak Chinese first and English on request: the chosen language and the words.

Templates write both languages side by side (``tr("提交", "Submit")``) so a label and its
translation are read and changed together; names that come from data (bundles, items,
departments, checklists) arrive as ``{zh, en}`` pairs or ``Label`` values and go through
``label``. The few words the code itself chooses (states, roles, event kinds) live here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from engine.cases.views import Label

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
CHINA = ZoneInfo("Asia/Shanghai")

CASE_STATUS: dict[str, tuple[str, str]] = {
    "running": ("办理中", "In progress"),
    "awaiting_applicant": ("待补正", "Waiting for your supplement"),
    "completed": ("已办结", "Completed"),
    "rejected": ("不予办理", "Rejected"),
    "withdrawn": ("已撤回", "Withdrawn"),
}
TASK_STATE: dict[str, tuple[str, str]] = {
    "ready": ("待认领", "Ready"),
    "claimed": ("办理中", "Claimed"),
    "completed": ("已完成", "Completed"),
    "cancelled": ("已取消", "Cancelled"),
}
OUTCOME: dict[str, tuple[str, str]] = {
    "approve": ("通过", "Approved"),
    "return": ("退回补正", "Returned"),
}
ROLE: dict[str, tuple[str, str]] = {
    "applicant": ("申请人", "Applicant"),
    "clerk": ("窗口人员", "Clerk"),
    "analyst": ("业务分析员", "Analyst"),
    "admin": ("管理员", "Administrator"),
}
EVENT: dict[str, tuple[str, str]] = {
    "submitted": ("提交申请", "Application submitted"),
    "claimed": ("认领", "Claimed"),
    "unclaimed": ("放回队列", "Put back in the queue"),
    "approved": ("审核通过", "Approved"),
    "returned": ("退回补正", "Returned for correction"),
    "sent_back": ("退回到前序环节", "Sent back to an earlier step"),
    "step_reopened": ("环节重新办理", "Step reopened"),
    "case_moved": ("督办调整环节", "Moved by a supervisor"),
    "notice_issued": ("发出一次性补正告知", "Correction notice issued"),
    "supplemented": ("申请人补正", "Supplement received"),
    "certificate_issued": ("签发电子证照", "Certificate issued"),
    "certificate_revoked": ("电子证照已吊销(注销)", "Certificate revoked"),
    "certificate_superseded": ("电子证照已换发，原证照作废", "Certificate reissued; the earlier one revoked"),
    "completed": ("办结", "Case completed"),
    "rejected": ("不予办理", "Case rejected"),
    "withdrawn": ("撤回", "Withdrawn"),
    "timer_fired": ("计时器触发", "Timer fired"),
    "escalated": ("超时督办", "Escalated"),
    "overdue": ("已逾期", "Overdue"),
    "warned": ("临近时限提醒", "Due soon warning"),
    "rated": ("评价", "Rated"),
    "follow_on_due": ("免申即享待启动", "Follow-on service due"),
    "follow_on_started": ("免申即享已启动", "Follow-on service started"),
    "follow_on_failed": ("免申即享未能启动", "Follow-on service failed"),
    "task_created": ("进入部门待办队列", "Queued at the department"),
    "task_cancelled": ("环节取消", "Step cancelled"),
    "escalation_resolved": ("督办解除", "Escalation resolved"),
    "rectification_opened": ("差评转办整改", "Sent for rectification"),
    "rectification_replied": ("整改答复", "Rectification answered"),
    "rectification_overdue": ("整改逾期", "Rectification late"),
    "complaint": ("办不成事反映", "Complaint filed"),
    "complaint_answered": ("反映已答复", "Complaint answered"),
    # Staff trail only (the applicant's timeline leaves hand-overs out: engine.cases.reading).
    "task_reassigned": ("转办", "Reassigned"),
    "task_delegated": ("委托办理", "Delegated"),
    "task_released": ("放回队列（人员休假）", "Released to the queue (clerk away)"),
}
# Messages shown after a redirect (``?msg=code``): only these texts, never text from the URL.
FLASH: dict[str, tuple[str, str, str]] = {
    "signed-in": ("ok", "已登录。", "Signed in."),
    "signed-out": ("ok", "已退出。", "Signed out."),
    "submitted": (
        "ok",
        "申请已提交，请留意办理进度。",
        "Your application was submitted; follow its progress here.",
    ),
    "supplemented": (
        "ok",
        "补正材料已提交，相关部门将继续办理。",
        "Your supplement was sent; the departments carry on.",
    ),
    "rated": ("ok", "感谢您的评价。", "Thank you for your rating."),
    "withdrawn": (
        "ok",
        "申请已撤回，各部门不再办理。",
        "Your application was withdrawn; the departments stop.",
    ),
    "claimed": ("ok", "已认领该任务。", "You claimed the task."),
    "unclaimed": ("ok", "已放回队列。", "The task is back in the queue."),
    "approved": ("ok", "已通过。", "Approved."),
    "returned": ("ok", "已退回补正，申请人将收到一次性告知。", "Returned; the applicant gets one notice."),
    "sent_back": (
        "ok",
        "已退回到所选环节，该部门将重新办理。",
        "Sent back; that department handles the step again.",
    ),
    "moved": ("ok", "办件已转到所选环节。", "The case moved to the chosen step."),
    "taken": ("warn", "该任务已被他人认领。", "Someone else has claimed this task."),
    "deployed": ("ok", "已部署新版本。", "A new version was deployed."),
    "unchanged": ("ok", "内容未变化，版本保持不变。", "Nothing changed; the version stays."),
    # Four-eyes review of bundle versions (api/pages/studio.py).
    "drafted": (
        "ok",
        "已保存为草稿版本：提交审核并由他人发布后生效。",
        "Saved as a draft: it goes live once submitted and published by someone else.",
    ),
    "version-submit": (
        "ok",
        "已提交审核，等待另一位分析员或管理员发布。",
        "Submitted for review; another analyst or an admin publishes it.",
    ),
    "version-publish": ("ok", "已发布：新办件将使用此版本。", "Published: new cases start on this version."),
    "version-return": ("ok", "已退回起草人修改。", "Returned to its author with your note."),
    "version-withdraw": ("ok", "已撤回此版本。", "The version was withdrawn."),
    "revoked": (
        "ok",
        "证照已吊销(注销)，核验页面即时显示。",
        "The certificate was revoked; its check page says so.",
    ),
    "reassigned": ("ok", "已转办，接手人员将收到消息。", "Reassigned; the clerk who takes it is told."),
    "delegated": (
        "ok",
        "已委托，受托人员将收到消息和您的留言。",
        "Delegated; the clerk gets a message with your note.",
    ),
}


# A display name written "中文 (English gloss)", as the demo accounts are.
GLOSSED = re.compile(r"^(?P<zh>.*?\S)\s*[(（][\x20-\x7e]+[)）]$")


@dataclass(frozen=True)
class Words:
    """The language of one page and the helpers its template uses."""

    lang: str

    @property
    def html_lang(self) -> str:
        """The value of ``<html lang>`` (BCP 47)."""
        return "zh-CN" if self.lang == "zh" else "en"

    def tr(self, zh: str, en: str) -> str:
        """The text in the page's language."""
        return zh if self.lang == "zh" else en

    def label(self, value: Any, fallback: str = "") -> str:
        """A ``Label``, a ``{zh, en}`` mapping or a plain string in the page's language."""
        if isinstance(value, Label):
            return value.zh if self.lang == "zh" else (value.en or value.zh)
        if isinstance(value, Mapping):
            zh = str(value.get("zh") or "")
            en = str(value.get("en") or "")
            return (zh or en or fallback) if self.lang == "zh" else (en or zh or fallback)
        if value is None or value == "":
            return fallback
        return str(value)

    def person_name(self, display: str) -> str:
        """A display name as this page shows it: Chinese pages drop an English gloss in brackets."""
        glossed = GLOSSED.match(display)
        return glossed["zh"] if glossed and self.lang == "zh" else display

    def word(self, table: Mapping[Any, tuple[str, str]], key: Any) -> str:
        """A word from one of the tables above (the key itself when unknown)."""
        pair = table.get(key)
        return str(key) if pair is None else self.tr(*pair)

    def when(self, value: datetime | str | None, with_time: bool = True) -> str:
        """A time in China Standard Time, as people there read it."""
        if value is None or value == "":
            return ""
        if isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                return value
        else:
            moment = value
        local = moment.astimezone(CHINA) if moment.tzinfo else moment
        return local.strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")

    def days(self, value: float | int | None) -> str:
        """A number of working days."""
        if value is None:
            return ""
        number = f"{value:g}"
        return (
            f"{number} 个工作日" if self.lang == "zh" else f"{number} working day{'s' if value != 1 else ''}"
        )


def pick_lang(cookie: str | None) -> str:
    """The language a visitor chose, Chinese unless they chose English."""
    return cookie if cookie in LANGS else DEFAULT_LANG


# 挂起/恢复 (engine.cases.suspending): the status, the timeline lines and the flash messages.
CASE_STATUS["suspended"] = ("已暂停办理", "Suspended")
EVENT["suspended"] = ("暂停办理（挂起）", "Case suspended")
EVENT["resumed"] = ("恢复办理", "Case resumed")
EVENT["sla_paused"] = ("办理时限顺延", "Time limit moved on")
FLASH["suspended"] = (
    "ok",
    "办件已挂起，办理时限暂停计算。",
    "The case is suspended; its time limit stands still.",
)
FLASH["resumed"] = (
    "ok",
    "办件已恢复办理，办理时限相应顺延。",
    "The case runs again; its due times moved on.",
)

# 版本迁移 (engine.cases.migrations): the staff's timeline line.
EVENT["case_migrated"] = ("迁移到新版本流程", "Moved to a new version of the procedure")

# 智能预审 (engine.review): the staff's timeline line (counts in its detail, never values).
EVENT["material_reviewed"] = ("材料预审完成", "Document pre-reviewed")

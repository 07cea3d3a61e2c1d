"""The SLA clock (限时办结): overdue tasks, escalation, pauses while the applicant has the case."""

"""The self-audit: the ten operational questions answered yes / partial / no from a workspace, with evidence."""

from __future__ import annotations

from ._verbs import AuditVerbs
from .questions import DEFINITION_OPS, QUESTIONS, answer_all, gate_bypasses, recipes_for
from .report import AUDIT_MIME, Answer, AuditReport

__all__ = ["AUDIT_MIME", "Answer", "AuditReport", "AuditVerbs", "DEFINITION_OPS", "QUESTIONS", "answer_all",
           "gate_bypasses", "recipes_for"]

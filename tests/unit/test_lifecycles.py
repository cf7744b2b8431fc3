"""Each lifecycle is one StrEnum beside its model; code and templates name its states rather than
spell them, so a state renamed or mistyped fails at once instead of never matching."""
import re
from pathlib import Path

import pytest

from app.models import Automation, AutomationRun, Campaign, Contact, ContactImport, Email, SmsMessage
from app.models.automations import AutomationStatus, RunStatus
from app.models.contacts import ImportStatus, Subscription
from app.models.messaging import CampaignStatus, DeliveryStatus

ROOT = Path(__file__).resolve().parents[2]
# A status compared with, assigned or defaulted to a quoted word: `status == "draft"`,
# `status in ('queued', ...)`, `.status.in_(("sent", ...))`, `status="sent"`, `"status": "failed"`,
# Jinja's `selectattr('status', 'in', ['queued'])`.
SPELLED = re.compile(r"""status["']?\s*(?:==|!=|=|:|\bin\b|\bnot in\b|\.in_\(|\.not_in\(|,\s*["']\w+["'],)"""
                     r"""\s*[(\[]?\s*["'][a-z_]+["']""")


@pytest.mark.parametrize("column, lifecycle", [
    (Campaign.status, CampaignStatus), (Email.status, DeliveryStatus), (SmsMessage.status, DeliveryStatus),
    (Automation.status, AutomationStatus), (AutomationRun.status, RunStatus),
    (ContactImport.status, ImportStatus),
    (Contact.email_status, Subscription), (Contact.sms_status, Subscription),
])
def test_every_status_column_starts_in_a_state_of_its_lifecycle(column, lifecycle):
    default = column.property.columns[0].default.arg
    assert isinstance(default, lifecycle)
    # Its longest state fits the column.
    assert max(len(state) for state in lifecycle) <= column.property.columns[0].type.length


def spelled_states(folder: str, pattern: str) -> list[str]:
    return [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
            for path in sorted((ROOT / folder).rglob(pattern))
            for number, line in enumerate(path.read_text().splitlines(), 1) if SPELLED.search(line)]


def test_the_code_names_states_instead_of_spelling_them():
    assert spelled_states("app", "*.py") + spelled_states("worker", "*.py") == []


def test_the_templates_name_states_instead_of_spelling_them():
    assert spelled_states("app/templates", "*.html") == []


def test_the_pattern_finds_a_spelled_state():
    for line in ('if campaign.status == "draft":', "{% if email.status == 'sent' %}",
                 "Campaign.status.in_((\"scheduled\", \"sending\"))", 'status="queued")',
                 '{"status": "failed"}', "run.status not in ('active', 'waiting')"):
        assert SPELLED.search(line), line
    assert not SPELLED.search("campaign.status == CampaignStatus.DRAFT")

"""The SQL-to-Opportunity SLA of seed 001, present after ``migrate``.

Discovery call completed within 3 business days of the SQL (alert to the AE's manager);
opportunity created within 5 business days of the SQL (manager alert + pipeline-review flag).
"""

from django.db import migrations

NAME = "SQL-to-Opportunity (seed 001)"
STEPS = [
    {"after_business_days": 3, "action": "discovery_overdue"},
    {"after_business_days": 5, "action": "opportunity_overdue"},
]


def create_default(apps, schema_editor):
    apps.get_model("routing", "SlaPolicy").objects.update_or_create(name=NAME, defaults={
        "phase": "sql", "priority": 0, "abm_tiers": [], "segments": [], "triggers": [], "for_queue": False,
        "first_contact_minutes": None, "qualification_minutes": None, "steps": STEPS, "active": True})


def remove_default(apps, schema_editor):
    apps.get_model("routing", "SlaPolicy").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("routing", "0004_sql_sla_phase")]
    operations = [migrations.RunPython(create_default, remove_default)]

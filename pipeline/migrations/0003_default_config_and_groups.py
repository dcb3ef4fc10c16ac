"""Default stage limits (SPEC §7), the deal-desk threshold of seed 001 and the approver groups."""

from decimal import Decimal

from django.db import migrations

STALE_LIMITS = {"qualified": None, "discovery": 14, "demo": None, "proposal": 10, "negotiation": 21}
APPROVER_GROUPS = ("VP Sales", "Deal Desk", "Finance", "Legal")


def forwards(apps, schema_editor):
    StageConfig = apps.get_model("pipeline", "StageConfig")
    DealDeskConfig = apps.get_model("pipeline", "DealDeskConfig")
    Group = apps.get_model("auth", "Group")
    for stage, days in STALE_LIMITS.items():
        StageConfig.objects.get_or_create(stage=stage, defaults={"stale_after_days": days})
    DealDeskConfig.objects.get_or_create(pk=1, defaults={"acv_threshold": Decimal("25000")})
    for name in APPROVER_GROUPS:
        Group.objects.get_or_create(name=name)


def backwards(apps, schema_editor):
    apps.get_model("pipeline", "StageConfig").objects.all().delete()
    apps.get_model("pipeline", "DealDeskConfig").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("pipeline", "0002_deal_fields_history_approvals"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]

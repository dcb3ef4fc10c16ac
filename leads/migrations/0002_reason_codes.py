"""Reference data: the rejection reason codes of seed 001 with their recycle action."""

from django.db import migrations

REASON_CODES = [
    ("FIT-01", "Company too small", "nurture", None),
    ("FIT-02", "Wrong industry", "archive", None),
    ("FIT-03", "Wrong role / no authority", "nurture", None),
    ("ENG-01", "No response after 3 attempts", "recycle_after", 90),
    ("ENG-02", "Interested but bad timing", "recycle_after", 60),
    ("QUAL-01", "No budget", "recycle_after", 90),
    ("QUAL-02", "Using competitor, locked in", "recycle_before_renewal", None),
    ("QUAL-03", "Not a real project", "archive", None),
]


def create_codes(apps, schema_editor):
    ReasonCode = apps.get_model("leads", "ReasonCode")
    for code, reason, action, days in REASON_CODES:
        ReasonCode.objects.update_or_create(
            code=code, defaults={"reason": reason, "action": action, "recycle_days": days}
        )


def remove_codes(apps, schema_editor):
    apps.get_model("leads", "ReasonCode").objects.filter(code__in=[c[0] for c in REASON_CODES]).delete()


class Migration(migrations.Migration):
    dependencies = [("leads", "0001_initial")]
    operations = [migrations.RunPython(create_codes, remove_codes)]

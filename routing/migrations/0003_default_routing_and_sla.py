"""Default routing tree and SLA policies of seed 001, present after ``migrate`` (no demo data)."""

from django.db import migrations

POLICIES = [
    # name, priority, abm_tiers, segments, triggers, for_queue, first_contact, qualification, steps
    ("Speed-to-lead (hot leads)", 300, [], [], ["demo_request", "contact_sales"], False, 5, 2880, [
        {"after_minutes": 5, "action": "remind_owner"},
        {"after_minutes": 15, "action": "alert_backup"},
        {"after_minutes": 30, "action": "alert_manager"},
        {"after_minutes": 60, "action": "reassign"},
        {"after_minutes": 2880, "action": "qualification_overdue"},
    ]),
    ("ABM tier 1 (1 hour)", 250, [1], [], [], False, 60, 2880, [
        {"at_due": True, "action": "alert_manager"},
        {"after_minutes": 2880, "action": "qualification_overdue"},
    ]),
    ("ABM tier 2 (4 hours)", 240, [2], [], [], False, 240, 2880, [
        {"at_due": True, "action": "alert_manager"},
        {"after_minutes": 2880, "action": "qualification_overdue"},
    ]),
    ("ABM tier 3 (same business day)", 230, [3], [], [], False, None, 2880, [
        {"at_due": True, "action": "alert_manager"},
        {"after_minutes": 2880, "action": "qualification_overdue"},
    ]),
    ("MQL-to-SQL standard (4 business hours)", 0, [], [], [], False, 240, 2880, [
        {"at_due": True, "action": "alert_manager"},
        {"after_minutes": 2880, "action": "qualification_overdue"},
    ]),
    # First contact = the team's queue_sla_minutes (seed: 1 hour).
    ("Team queue", 0, [], [], [], True, None, None, [
        {"at_due": True, "action": "alert_manager"},
    ]),
]

STEPS = [
    # name, kind, order, conditions, role
    ("Named / target account owner", "named_account", 10, {"abm_tiers": []}, ""),
    ("Large ACV -> enterprise team", "enterprise", 20, {"min_employees": 1000, "industries": []}, "enterprise_ae"),
    ("PLG signup with team usage", "plg", 30, {"event_groups": [["team_member_invited"]]}, "plg_specialist"),
    ("Territory", "territory", 40, {}, ""),
    ("Round-robin", "round_robin", 50, {"period": "week", "quota_bonus": 0.5}, ""),
    ("Fallback team queue", "fallback", 60, {}, ""),
]


def create_defaults(apps, schema_editor):
    SlaPolicy = apps.get_model("routing", "SlaPolicy")
    RoutingStep = apps.get_model("routing", "RoutingStep")
    for name, priority, tiers, segments, triggers, for_queue, first, qualification, steps in POLICIES:
        SlaPolicy.objects.update_or_create(name=name, defaults={
            "priority": priority, "abm_tiers": tiers, "segments": segments, "triggers": triggers,
            "for_queue": for_queue, "first_contact_minutes": first, "qualification_minutes": qualification,
            "steps": steps, "active": True})
    for name, kind, order, conditions, role in STEPS:
        RoutingStep.objects.update_or_create(name=name, defaults={
            "kind": kind, "order": order, "conditions": conditions, "role": role, "active": True})


def remove_defaults(apps, schema_editor):
    apps.get_model("routing", "SlaPolicy").objects.filter(name__in=[p[0] for p in POLICIES]).delete()
    apps.get_model("routing", "RoutingStep").objects.filter(name__in=[s[0] for s in STEPS]).delete()


class Migration(migrations.Migration):
    dependencies = [("routing", "0002_routing_tree_and_sla")]
    operations = [migrations.RunPython(create_defaults, remove_defaults)]

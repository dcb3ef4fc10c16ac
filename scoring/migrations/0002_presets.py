"""Presets (API.md): the three example models of seed 001 as the active models of their segments
(plg, enterprise, mid_market), an active ``default`` model built on the API.md example, and the
personal-email domain list. Data only, frozen here (no imports of live code)."""

from django.db import migrations

PERSONAL = [
    "163.com", "aol.com", "fastmail.com", "gmail.com", "gmx.com", "gmx.de", "googlemail.com", "hey.com",
    "hotmail.com", "icloud.com", "live.com", "mac.com", "mail.com", "me.com", "msn.com", "outlook.com",
    "proton.me", "protonmail.com", "qq.com", "web.de", "yahoo.co.uk", "yahoo.com", "yandex.com", "yandex.ru",
    "zoho.com",
]
FAST_TRACK = ["demo_request", "contact_sales"]
MANAGER_UP = ["manager", "director", "vp", "c_suite"]

PRESETS = [
    {
        "name": "Default", "segment": "default", "mql_threshold": 60, "min_fit": 20, "min_engagement": 20,
        "cooldown_minutes": 30, "fast_track_events": FAST_TRACK,
        "description": "The API.md example model with the seed's high-intent signals and negative signals.",
        "rules": [
            {"kind": "fit", "field": "company.employees", "op": "between", "value": [50, 1000], "points": 15,
             "label": "Company size 50-1000"},
            {"kind": "fit", "field": "title_level", "op": "in", "value": ["manager", "director", "vp"],
             "points": 15, "label": "Manager to VP"},
            {"kind": "fit", "field": "title_level", "op": "eq", "value": "c_suite", "points": 15,
             "label": "C-suite"},
            {"kind": "engagement", "event": "demo_request", "points": 30, "label": "Demo request"},
            {"kind": "engagement", "event": "contact_sales", "points": 30, "label": "Contact sales form"},
            {"kind": "engagement", "event": "free_trial_signup", "points": 25, "label": "Free trial signup"},
            {"kind": "engagement", "event": "pricing_page_view", "points": 15, "decay_points": 5, "decay_days": 7,
             "label": "Pricing page visit"},
            {"kind": "engagement", "event": "email_click", "points": 10, "min_count": 3, "window_days": 30,
             "label": "Email clicks (3+ in 30 days)"},
            {"kind": "engagement", "event": "webinar_attendance", "points": 15, "decay_points": 5,
             "decay_days": 30, "label": "Webinar attendance"},
            {"kind": "engagement", "event": "case_study_view", "points": 15, "min_count": 2, "window_days": 30,
             "decay_points": 5, "decay_days": 14, "label": "Case studies (2+)"},
            {"kind": "negative", "field": "email_domain_kind", "op": "eq", "value": "competitor", "points": -50,
             "label": "Competitor email domain"},
            {"kind": "negative", "field": "email_domain_kind", "op": "eq", "value": "edu", "points": -30,
             "label": "Student email (.edu)"},
            {"kind": "negative", "field": "email_domain_kind", "op": "eq", "value": "personal", "points": -10,
             "label": "Personal email"},
            {"kind": "negative", "field": "title_level", "op": "eq", "value": "student", "points": -25,
             "label": "Student / intern title"},
            {"kind": "negative", "event": "unsubscribe", "points": -20, "max_count": 1, "label": "Unsubscribed"},
            {"kind": "negative", "event": "hard_bounce", "points": -50, "max_count": 1, "label": "Hard bounce"},
            {"kind": "negative", "event": "spam_complaint", "points": -100, "max_count": 1,
             "label": "Spam complaint"},
        ],
    },
    {
        "name": "PLG SaaS", "segment": "plg", "mql_threshold": 60, "min_fit": 10, "min_engagement": 30,
        "cooldown_minutes": 30, "fast_track_events": FAST_TRACK,
        "description": "Seed 001 model 1 (ACV $500-$5K): 30% fit / 70% engagement; recalibrate monthly.",
        "rules": [
            {"kind": "fit", "field": "company.employees", "op": "between", "value": [10, 500], "points": 15,
             "label": "Company size 10-500"},
            {"kind": "fit", "field": "company.industry", "op": "in", "value": {"setting": "target_industries"},
             "points": 10, "label": "Target industry"},
            {"kind": "fit", "field": "title_level", "op": "in", "value": MANAGER_UP, "points": 10,
             "label": "Manager+ role"},
            {"kind": "fit", "field": "company.tech_tags", "op": "in", "value": {"setting": "target_tools"},
             "points": 10, "label": "Uses complementary tool"},
            {"kind": "engagement", "event": "account_created", "points": 15, "label": "Created free account"},
            {"kind": "engagement", "event": "onboarding_completed", "points": 20, "label": "Completed onboarding"},
            {"kind": "engagement", "event": "core_feature_used", "points": 25, "min_count": 3,
             "label": "Used core feature 3+ times"},
            {"kind": "engagement", "event": "team_member_invited", "points": 25, "label": "Invited team member"},
            {"kind": "engagement", "event": "usage_limit_hit", "points": 20, "decay_points": 10, "decay_days": 30,
             "label": "Hit usage limit"},
            {"kind": "engagement", "event": "pricing_page_view", "points": 15, "decay_points": 5, "decay_days": 7,
             "label": "Pricing page visit"},
            {"kind": "negative", "field": "email_domain_kind", "op": "eq", "value": "competitor", "points": -50,
             "label": "Competitor domain"},
            {"kind": "negative", "field": "email_domain_kind", "op": "eq", "value": "personal", "points": -10,
             "label": "Personal email"},
            {"kind": "negative", "inactive_days": 14, "points": -15, "label": "No login in 14 days"},
        ],
    },
    {
        "name": "Enterprise Sales-Led", "segment": "enterprise", "mql_threshold": 75, "min_fit": 40,
        "min_engagement": 15, "cooldown_minutes": 30, "fast_track_events": FAST_TRACK,
        "description": "Seed 001 model 2 (ACV $50K+): 60% fit / 40% engagement; recalibrate quarterly. "
                       "'Decision maker confirmed' and 'multiple stakeholders' are sales-confirmed and "
                       "account-level (see the buying-committee alert), not rules.",
        "rules": [
            {"kind": "fit", "field": "company.employees", "op": "gte", "value": 500, "points": 20,
             "label": "Company size 500+"},
            {"kind": "fit", "field": "company.annual_revenue", "op": "gte", "value": 50000000, "points": 15,
             "label": "Revenue $50M+"},
            {"kind": "fit", "field": "company.industry", "op": "in", "value": {"setting": "target_industries"},
             "points": 15, "label": "Target industry"},
            {"kind": "fit", "field": "title_level", "op": "in", "value": ["vp", "c_suite"], "points": 20,
             "label": "VP+ title"},
            {"kind": "fit", "field": "company.tech_tags", "op": "in", "value": {"setting": "competitor_tools"},
             "points": 10, "label": "Uses competitor"},
            {"kind": "engagement", "event": "demo_request", "points": 30, "label": "Demo request"},
            {"kind": "engagement", "event": "webinar_attendance", "points": 15, "label": "Attended executive webinar"},
            {"kind": "engagement", "event": "roi_calculator", "points": 10, "label": "Downloaded ROI guide"},
            {"kind": "engagement", "event": "pricing_page_view", "points": 15, "min_count": 2, "window_days": 30,
             "label": "Visited pricing page 2+"},
            {"kind": "negative", "field": "company.employees", "op": "lte", "value": 99, "points": -30,
             "label": "Company too small (<100)"},
            {"kind": "negative", "field": "title_level", "op": "eq", "value": "individual_contributor",
             "points": -15, "label": "Individual contributor only"},
            {"kind": "negative", "field": "email_domain_kind", "op": "eq", "value": "competitor", "points": -50,
             "label": "Competitor domain"},
        ],
    },
    {
        "name": "Mid-Market Hybrid", "segment": "mid_market", "mql_threshold": 65, "min_fit": 20,
        "min_engagement": 20, "cooldown_minutes": 30, "fast_track_events": FAST_TRACK,
        "description": "Seed 001 model 3 (ACV $5K-$25K): 50% fit / 50% engagement; recalibrate quarterly.",
        "rules": [
            {"kind": "fit", "field": "company.employees", "op": "between", "value": [50, 1000], "points": 15,
             "label": "Company size 50-1000"},
            {"kind": "fit", "field": "company.industry", "op": "in", "value": {"setting": "target_industries"},
             "points": 10, "label": "Target industry"},
            {"kind": "fit", "field": "title_level", "op": "in", "value": ["manager", "director", "vp"],
             "points": 15, "label": "Manager-VP title"},
            {"kind": "fit", "field": "company.country", "op": "in", "value": {"setting": "target_geographies"},
             "points": 10, "label": "Target geography"},
            {"kind": "fit", "field": "company.tech_tags", "op": "in", "value": {"setting": "target_tools"},
             "points": 10, "label": "Uses complementary tool"},
            {"kind": "engagement", "event": "demo_request", "points": 25, "label": "Demo request"},
            {"kind": "engagement", "event": "free_trial_signup", "points": 25, "label": "Trial signup"},
            {"kind": "engagement", "event": "pricing_page_view", "points": 15, "decay_points": 5, "decay_days": 7,
             "label": "Pricing page visit"},
            {"kind": "engagement", "event": "case_study_view", "points": 10, "label": "Case study download"},
            {"kind": "engagement", "event": "webinar_attendance", "points": 10, "label": "Webinar attendance"},
            {"kind": "engagement", "event": "email_click", "points": 10, "min_count": 3, "window_days": 30,
             "label": "Email engagement (3+ clicks)"},
            {"kind": "engagement", "event": "blog_visit", "points": 10, "min_count": 5, "window_days": 30,
             "label": "Blog visits (5+ pages)"},
            {"kind": "negative", "field": "email_domain_kind", "op": "eq", "value": "competitor", "points": -50,
             "label": "Competitor domain"},
            {"kind": "negative", "field": "email_domain_kind", "op": "eq", "value": "personal", "points": -10,
             "label": "Personal email"},
            {"kind": "negative", "field": "title_level", "op": "eq", "value": "student", "points": -25,
             "label": "Student/intern title"},
            {"kind": "negative", "inactive_days": 30, "points": -10, "label": "No engagement in 30 days"},
        ],
    },
]


def add_presets(apps, schema_editor):
    ScoringModel = apps.get_model("scoring", "ScoringModel")
    for preset in PRESETS:
        if ScoringModel.objects.filter(name=preset["name"]).exists():
            continue
        ScoringModel.objects.create(
            **preset, version=1, status="active", personal_domains=PERSONAL,
            approval_note="Preset from seed 001 (shipped with the product).",
        )


def remove_presets(apps, schema_editor):
    ScoringModel = apps.get_model("scoring", "ScoringModel")
    ScoringModel.objects.filter(name__in=[p["name"] for p in PRESETS], version=1).delete()


class Migration(migrations.Migration):
    dependencies = [("scoring", "0001_initial")]

    operations = [migrations.RunPython(add_presets, remove_presets)]

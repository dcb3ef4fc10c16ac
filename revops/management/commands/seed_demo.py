"""Load demo data idempotently: teams, reps, territories, accounts, leads at every stage, events, deals.

Every row has a natural key (username, team/territory name, account domain, lead email,
event idempotency key, deal name), so running the command again adds nothing. Demo leads are
then scored by the active models, open MQLs are routed through the real handoff (owner, task,
SLA clock), most of them get a first contact, and deals carry their stage history, so every
page and dashboard has something to show at first login.

It lives in ``revops`` because it drives every app.
"""

import random
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from leads.models import Account, EngagementEvent, Lead
from leads.services import derive_title_level
from pipeline.models import OPEN_ORDER, REQUIRED_FIELDS, Deal, DealStageChange
from pipeline.services import sweep_stale_deals
from routing.models import Assignment, Rep, Team, Territory
from routing.services import activity_log, lead_handoff
from scoring.services import leads_rescore

PASSWORD = "demo-pass-123"
GEOGRAPHY = {  # seed 001, "Territory Routing / By Geography"
    "West": ["CA", "WA", "OR", "NV", "AZ", "UT", "CO", "HI"],
    "Central": ["TX", "IL", "MN", "MO", "OH", "MI", "WI", "IN"],
    "East": ["NY", "MA", "PA", "NJ", "CT", "VA", "FL", "GA"],
}
TIMEZONES = {"West": "America/Los_Angeles", "Central": "America/Chicago", "East": "America/New_York",
             "International": "Europe/London", "Enterprise": "America/New_York", "PLG": "America/Chicago",
             "Customer Success": "America/Chicago"}
INDUSTRIES = ["software", "it services", "hardware", "banking", "insurance", "fintech", "healthcare",
              "pharma", "retail", "manufacturing", "education", "media"]
COUNTRIES = ["US"] * 7 + ["GB", "DE", "FR", "CA", "AU", "NL"]
TITLES = ["CEO", "CTO", "VP Marketing", "VP Sales", "Director of Operations", "Head of Growth",
          "Marketing Manager", "Sales Manager", "Software Engineer", "Analyst", "Consultant", "Student Intern",
          "Chief Revenue Officer", "Director of IT", "Product Manager", "Data Scientist"]
SOURCES = ["website", "webinar", "paid_search", "paid_social", "referral", "event", "content", "partner"]
CAMPAIGNS = ["q3-webinar-series", "pricing-retargeting", "ebook-revops-guide", "partner-summit", ""]
EVENT_TYPES = ["pricing_page_view", "blog_visit", "email_open", "email_click", "webinar_registration",
               "webinar_attendance", "whitepaper_download", "case_study_view", "homepage_visit",
               "newsletter_open", "free_trial_signup", "account_created", "core_feature_used", "demo_request"]
FIRST = ["Ada", "Grace", "Alan", "Linus", "Margaret", "Ken", "Barbara", "Donald", "Frances", "Edsger", "Radia",
         "Tim", "Katherine", "Dennis", "Hedy", "John", "Sophie", "Yukihiro", "Anita", "Guido"]
LAST = ["Lovelace", "Hopper", "Turing", "Torvalds", "Hamilton", "Thompson", "Liskov", "Knuth", "Allen",
        "Dijkstra", "Perlman", "Berners-Lee", "Johnson", "Ritchie", "Lamarr", "McCarthy", "Wilson", "Matsumoto",
        "Borg", "Rossum"]
STAGE_MIX = [  # (stage, share of the demo leads)
    (Lead.Stage.SUBSCRIBER, 0.18), (Lead.Stage.LEAD, 0.40), (Lead.Stage.MQL, 0.12), (Lead.Stage.SQL, 0.07),
    (Lead.Stage.OPPORTUNITY, 0.08), (Lead.Stage.CUSTOMER, 0.05), (Lead.Stage.EVANGELIST, 0.01),
    (Lead.Stage.RECYCLED, 0.06), (Lead.Stage.ARCHIVED, 0.03),
]


class Command(BaseCommand):
    help = "Load demo data (idempotent) and print the demo logins."

    def add_arguments(self, parser):
        parser.add_argument("--leads", type=int, default=1000)
        parser.add_argument("--accounts", type=int, default=300)

    def handle(self, *args, leads: int, accounts: int, **options):
        rng = random.Random(42)  # the same demo every time
        now = timezone.now().replace(microsecond=0)
        with transaction.atomic():
            users = self._people()
            account_rows = self._accounts(rng, accounts, users)
            lead_count = self._leads(rng, leads, account_rows, users, now)
            self._events(rng, now)
            self._deals(rng, now)
        self._rescore(now)
        self._handoffs(rng, now)
        sweep_stale_deals(now=now)
        self.stdout.write(self.style.SUCCESS(
            f"Demo data ready: {Team.objects.count()} teams, {Rep.objects.count()} reps, "
            f"{Account.objects.count()} accounts, {Lead.objects.count()} leads ({lead_count} new), "
            f"{EngagementEvent.objects.count()} events, {Deal.objects.count()} deals."))
        self.stdout.write(
            "Demo logins (password for all: demo-pass-123):\n"
            "  admin          RevOps admin  -> http://127.0.0.1:8000/admin/\n"
            "  manager.west   manager       -> http://127.0.0.1:8000/admin/ and /app/\n"
            "  ae.west1       AE            -> http://127.0.0.1:8000/app/\n"
            "  API token: POST /api/v1/auth/token/ {\"username\": \"admin\", \"password\": \"demo-pass-123\"}"
        )

    def _user(self, username, *, staff=False, superuser=False):
        User = get_user_model()
        user, created = User.objects.get_or_create(
            username=username, defaults={"email": f"{username}@demo.revops.test", "is_staff": staff or superuser,
                                         "is_superuser": superuser})
        if created:
            user.set_password(PASSWORD)
            user.save(update_fields=["password"])
        return user

    def _rep(self, username, team, role, manager=None, **extra):
        user = self._user(username, staff=role == Rep.Role.MANAGER)
        rep, _ = Rep.objects.get_or_create(user=user, defaults={"team": team, "role": role, "manager": manager,
                                                                "timezone": team.timezone, **extra})
        return rep

    def _people(self):
        self._user("admin", superuser=True)
        reps = {"ae": [], "sdr": [], "cs": [], "enterprise_ae": [], "plg_specialist": []}
        for name, tz in TIMEZONES.items():
            team, _ = Team.objects.get_or_create(
                name=name, defaults={"timezone": tz, "holiday_country": None if name == "International" else "US",
                                     "queue_sla_minutes": 60})
            slug = name.lower().replace(" ", "")
            manager = self._rep(f"manager.{slug}", team, Rep.Role.MANAGER)
            role = {"Enterprise": Rep.Role.ENTERPRISE_AE, "PLG": Rep.Role.PLG_SPECIALIST,
                    "Customer Success": Rep.Role.CS}.get(name, Rep.Role.AE)
            prefix = {"Enterprise": "ent", "PLG": "plg", "Customer Success": "cs"}.get(name, "ae")
            members = [self._rep(f"{prefix}.{slug}{i}", team, role, manager, quota_attainment=Decimal(q))
                       for i, q in ((1, "0.62"), (2, "1.05"))]
            if role == Rep.Role.AE:
                members.append(self._rep(f"sdr.{slug}1", team, Rep.Role.SDR, manager))
            for rep, partner in zip(members, members[1:] + members[:1], strict=True):
                if rep.backup_id is None:
                    rep.backup = partner
                    rep.save(update_fields=["backup"])
            for rep in members:
                reps[rep.role].append(rep)
            if name in GEOGRAPHY:
                territory, _ = Territory.objects.get_or_create(
                    name=name, defaults={"countries": ["US"], "states": GEOGRAPHY[name], "team": team,
                                         "priority": 50})
            elif name == "International":
                territory, _ = Territory.objects.get_or_create(
                    name="International", defaults={"countries": [c for c in set(COUNTRIES) if c != "US"],
                                                    "team": team, "priority": 40})
            else:
                continue
            for rep in members:
                rep.territories.add(territory)
        return reps

    def _accounts(self, rng, count, users):
        owners = users["ae"] + users["enterprise_ae"]
        rows = []
        for i in range(count):
            country = rng.choice(COUNTRIES)
            employees = int(rng.lognormvariate(5, 1.6)) + 1
            tier = rng.choices([0, 1, 2, 3], weights=[80, 3, 7, 10])[0]
            rows.append(Account(
                name=f"{rng.choice(['Acme', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Vandelay', 'Stark', 'Wayne', 'Tyrell', 'Soylent'])} "  # noqa: E501
                     f"{rng.choice(['Labs', 'Systems', 'Group', 'Analytics', 'Health', 'Capital', 'Works'])} {i}",
                domain=f"demo-account-{i}.example.com", employees=employees,
                annual_revenue=Decimal(employees * rng.randint(80, 400) * 1000),
                industry=rng.choice(INDUSTRIES), country=country,
                state=rng.choice(sum(GEOGRAPHY.values(), [])) if country == "US" else "",
                tech_tags=rng.sample(["salesforce", "hubspot", "segment", "snowflake", "slack", "marketo"], 2),
                abm_tier=tier, owner=rng.choice(owners).user if tier else None,
            ))
        Account.objects.bulk_create(rows, ignore_conflicts=True)
        return list(Account.objects.filter(domain__startswith="demo-account-").order_by("id"))

    def _leads(self, rng, count, accounts, users, now):
        owners = [r.user for r in users["ae"] + users["sdr"]]
        stages = [s for s, _ in STAGE_MIX]
        weights = [w for _, w in STAGE_MIX]
        rows = []
        for i in range(count):
            stage = rng.choices(stages, weights=weights)[0]
            account = rng.choice(accounts)
            created = now - timedelta(days=rng.uniform(1, 90))
            title = rng.choice(TITLES)
            first, last = rng.choice(FIRST), rng.choice(LAST)
            lead = Lead(
                email=f"{first}.{last}.{i}@{account.domain}".lower(), first_name=first, last_name=last,
                title=title, title_level=derive_title_level(title), source=rng.choice(SOURCES),
                campaign=rng.choice(CAMPAIGNS), account=account if stage != Lead.Stage.SUBSCRIBER else None,
                lifecycle_stage=stage, created_at=created,
            )
            reached = {Lead.Stage.MQL: 1, Lead.Stage.SQL: 2, Lead.Stage.OPPORTUNITY: 3, Lead.Stage.CUSTOMER: 4,
                       Lead.Stage.EVANGELIST: 4, Lead.Stage.RECYCLED: 1, Lead.Stage.ARCHIVED: 1}.get(stage, 0)
            at = created
            if stage != Lead.Stage.SUBSCRIBER:
                lead.lead_at = created
            for level, field in enumerate(["mql_at", "sql_at", "opportunity_at", "customer_at"], start=1):
                if reached >= level:
                    at = min(now, at + timedelta(hours=rng.uniform(2, 120)))
                    setattr(lead, field, at)
                    setattr(lead, f"first_{field}", at)
            if stage in (Lead.Stage.MQL, Lead.Stage.SQL, Lead.Stage.OPPORTUNITY, Lead.Stage.CUSTOMER,
                         Lead.Stage.EVANGELIST):
                lead.owner = rng.choice(owners)
            if stage == Lead.Stage.RECYCLED:
                lead.recycled_at = min(now, at + timedelta(days=2))
            if stage == Lead.Stage.ARCHIVED:
                lead.archived_at = min(now, at + timedelta(days=2))
            rows.append(lead)
        before = Lead.objects.count()
        Lead.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
        return Lead.objects.count() - before

    def _events(self, rng, now):
        rows = []
        leads = Lead.objects.filter(email__contains="@demo-account-").only("id", "created_at", "mql_at")
        for lead in leads.order_by("id"):
            for n in range(rng.randint(0, 8)):
                occurred = lead.created_at + (now - lead.created_at) * rng.random()
                rows.append(EngagementEvent(
                    lead_id=lead.id, type=rng.choice(EVENT_TYPES), occurred_at=occurred,
                    idempotency_key=f"demo-{lead.id}-{n}", properties={"source": "demo"}))
            if lead.mql_at:
                # The hand-raise that made the lead an MQL, so its score explains its stage.
                for offset, kind in ((timedelta(minutes=20), "pricing_page_view"), (timedelta(0), "demo_request")):
                    rows.append(EngagementEvent(
                        lead_id=lead.id, type=kind, occurred_at=lead.mql_at - offset,
                        idempotency_key=f"demo-{lead.id}-{kind}", properties={"source": "demo"}))
        EngagementEvent.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)

    def _deals(self, rng, now):
        stages = [s for s in Deal.Stage.values]
        candidates = Lead.objects.filter(
            lifecycle_stage__in=[Lead.Stage.OPPORTUNITY, Lead.Stage.CUSTOMER, Lead.Stage.EVANGELIST],
            email__contains="@demo-account-").order_by("id")
        existing = set(Deal.objects.filter(name__startswith="Demo deal ").values_list("name", flat=True))
        rows = []
        for index, lead in enumerate(candidates):
            name = f"Demo deal {lead.pk}"
            if name in existing:
                continue
            if lead.lifecycle_stage == Lead.Stage.OPPORTUNITY:
                stage = stages[index % 5]  # every open stage
            else:
                stage = Deal.Stage.CLOSED_WON
            rows.append(self._deal(rng, now, name, lead, stage))
        lost = Lead.objects.filter(lifecycle_stage=Lead.Stage.RECYCLED, email__contains="@demo-account-")[:20]
        for lead in lost:
            name = f"Demo deal {lead.pk}"
            if name not in existing:
                rows.append(self._deal(rng, now, name, lead, Deal.Stage.CLOSED_LOST))
        Deal.objects.bulk_create(rows)
        self._stage_history(rng, now, [d.name for d in rows])

    def _deal(self, rng, now, name, lead, stage):
        """A deal in ``stage`` carrying the required fields of every stage it has passed through."""
        deal = Deal(name=name, account_id=lead.account_id, lead=lead, owner_id=lead.owner_id,
                    amount=Decimal(rng.randint(5, 120) * 1000), stage=stage, source=lead.source or "website",
                    fit_score=lead.fit_score, close_date=(now + timedelta(days=rng.randint(5, 90))).date(),
                    stage_entered_at=now - timedelta(days=rng.randint(0, 35)))
        path = OPEN_ORDER[:OPEN_ORDER.index(stage) + 1] if stage in OPEN_ORDER else (*OPEN_ORDER, stage)
        for step in path:
            for field in REQUIRED_FIELDS[step]:
                if field in ("contact", "company", "source", "fit_score", "close_date"):
                    continue
                setattr(deal, field, f"Demo {field.replace('_', ' ')}")
        if stage in Deal.CLOSED:
            deal.closed_at = deal.stage_entered_at
        if stage == Deal.Stage.CLOSED_LOST:
            deal.loss_reason = rng.choice(["No budget this year", "Chose a competitor", "No decision"])
            deal.competitor = "Globex CRM" if "competitor" in deal.loss_reason else ""
        if rng.random() < 0.1 and stage in OPEN_ORDER:
            deal.close_date_pushes, deal.forecast_review = 2, True
        return deal

    def _stage_history(self, rng, now, names):
        """One stint per stage passed through, ending where the deal now is (time in stage, averages)."""
        stints = []
        for deal in Deal.objects.filter(name__in=names).only("pk", "stage", "stage_entered_at"):
            path = (OPEN_ORDER[:OPEN_ORDER.index(deal.stage) + 1] if deal.stage in OPEN_ORDER
                    else (*OPEN_ORDER, deal.stage))
            entered = deal.stage_entered_at
            previous = ""
            times = []
            for stage in reversed(path[:-1]):
                left, entered = entered, entered - timedelta(days=rng.uniform(3, 20))
                times.append((stage, entered, left))
            times.reverse()
            for stage, entered_at, left_at in times:
                stints.append(DealStageChange(deal=deal, from_stage=previous, stage=stage, entered_at=entered_at,
                                              left_at=left_at,
                                              duration_seconds=int((left_at - entered_at).total_seconds())))
                previous = stage
            stints.append(DealStageChange(deal=deal, from_stage=previous, stage=deal.stage,
                                          entered_at=deal.stage_entered_at))
        DealStageChange.objects.bulk_create(stints)

    def _rescore(self, now):
        """Score every demo lead with the active model of its segment (set-based, in batches)."""
        ids = list(Lead.objects.filter(email__contains="@demo-account-").values_list("pk", flat=True))
        for start in range(0, len(ids), 500):
            with transaction.atomic():
                leads_rescore(lead_ids=ids[start:start + 500], at=now)

    def _handoffs(self, rng, now):
        """Route every open demo MQL once (owner, first-contact task, SLA clock); most get a first contact."""
        routed = Assignment.objects.filter(is_current=True).values("lead_id")
        mqls = (Lead.objects.filter(lifecycle_stage=Lead.Stage.MQL, email__contains="@demo-account-")
                .exclude(pk__in=routed).order_by("pk"))
        for lead in mqls:
            with transaction.atomic():
                lead_handoff(lead=lead, at=lead.mql_at, trigger="demo")
                lead.refresh_from_db()
                if lead.owner_id and rng.random() < 0.7:
                    # Speed-to-lead spread: most within minutes, a tail over hours.
                    delay = timedelta(minutes=rng.choice([2, 4, 7, 12, 25, 45, 90, 240, 600]))
                    activity_log(lead=lead, kind=rng.choice(["call", "email"]), occurred_at=min(now, lead.mql_at +
                                 delay), note="Demo: first touch", actor=lead.owner)

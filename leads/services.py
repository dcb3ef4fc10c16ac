"""Write use-cases for accounts and leads.

Every service takes keyword arguments, runs in one transaction and records who and
why in the audit trail (django-simple-history ``_history_user`` / ``_change_reason``).
Only services call lifecycle transitions.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_fsm import can_proceed

from .models import Account, EmailDomainKind, Lead, NurtureEnrollment, TitleLevel

# Personal-mailbox providers (the default list; scoring models may extend it).
PERSONAL_EMAIL_DOMAINS = frozenset(
    {
        "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "hotmail.com", "outlook.com", "live.com",
        "msn.com", "aol.com", "icloud.com", "me.com", "mac.com", "proton.me", "protonmail.com", "gmx.com",
        "gmx.de", "web.de", "mail.com", "yandex.com", "yandex.ru", "zoho.com", "fastmail.com", "hey.com",
        "qq.com", "163.com",
    }
)

LEAD_PROFILE_FIELDS = ("first_name", "last_name", "title", "department", "phone", "source", "campaign", "segment")
ACCOUNT_FIELDS = ("name", "employees", "annual_revenue", "industry", "country", "state")

_TITLE_PATTERNS: list[tuple[str, re.Pattern]] = [
    (TitleLevel.STUDENT, re.compile(r"\b(student|intern|internship|trainee)\b")),
    (TitleLevel.C_SUITE, re.compile(
        r"\b(ceo|cto|cfo|cmo|coo|cio|cro|ciso|cpo|chief|founder|co-founder|cofounder|owner|president)\b")),
    (TitleLevel.VP, re.compile(r"\b(vp|svp|evp|avp|vice president|head of)\b")),
    (TitleLevel.DIRECTOR, re.compile(r"\b(director|dir\.)\b")),
    (TitleLevel.MANAGER, re.compile(r"\b(manager|mgr|lead|supervisor|team lead)\b")),
]


def normalise_email(email: str) -> str:
    """Trim and lower-case: the one identity of a person."""
    return (email or "").strip().lower()


def normalise_domain(domain: str | None) -> str | None:
    if not domain:
        return None
    value = domain.strip().lower()
    value = re.sub(r"^[a-z]+://", "", value)
    value = value.split("/")[0].split(":")[0]
    if value.startswith("www."):
        value = value[4:]
    return value or None


def email_domain(email: str) -> str:
    return normalise_email(email).rpartition("@")[2]


def derive_title_level(title: str) -> str:
    """Seniority from a free-text title; the first matching level wins (student before C-suite)."""
    text = (title or "").strip().lower()
    if not text:
        return TitleLevel.UNKNOWN
    for level, pattern in _TITLE_PATTERNS:
        if pattern.search(text):
            return level
    return TitleLevel.INDIVIDUAL_CONTRIBUTOR


def classify_email_domain(
    domain: str,
    *,
    personal: frozenset[str] | set[str] = PERSONAL_EMAIL_DOMAINS,
    competitor: set[str] | frozenset[str] = frozenset(),
    internal: set[str] | frozenset[str] = frozenset(),
) -> str:
    """corporate / personal / edu / competitor / internal, from configurable domain lists."""
    domain = (domain or "").lower()
    if domain in internal:
        return EmailDomainKind.INTERNAL
    if domain in competitor:
        return EmailDomainKind.COMPETITOR
    if domain in personal:
        return EmailDomainKind.PERSONAL
    if domain.endswith(".edu") or ".edu." in domain or ".ac." in domain:
        return EmailDomainKind.EDU
    return EmailDomainKind.CORPORATE


def record_change(instance, *, actor, reason: str) -> None:
    """Stamp who and why on the next save's history row (django-simple-history)."""
    instance._history_user = actor if getattr(actor, "is_authenticated", False) else None
    # The history's change_reason column holds 100 characters.
    instance._change_reason = reason[:100] if reason else None


@transaction.atomic
def account_upsert(*, company: dict[str, Any], email: str = "", actor=None) -> Account | None:
    """Find the account by normalised domain (else by name), create it when new, merge given fields."""
    domain = normalise_domain(company.get("domain"))
    name = (company.get("name") or "").strip()
    if not domain and email:
        candidate = email_domain(email)
        if classify_email_domain(candidate) == EmailDomainKind.CORPORATE and name:
            domain = candidate
    if not domain and not name:
        return None
    account = None
    if domain:
        account = Account.objects.select_for_update().filter(domain=domain).first()
    if account is None and name:
        account = Account.objects.select_for_update().filter(name__iexact=name).order_by("id").first()
    created = account is None
    if created:
        account = Account(name=name or domain, domain=domain)
    changed = created
    if domain and not account.domain:
        account.domain, changed = domain, True
    for field in ACCOUNT_FIELDS:
        value = company.get(field)
        if value in (None, ""):
            continue  # blanks never erase what is known
        if field == "country":
            value = str(value).strip().upper()
        if getattr(account, field) != value:
            setattr(account, field, value)
            changed = True
    if changed:
        record_change(account, actor=actor, reason="created" if created else "merged from intake")
        try:
            with transaction.atomic():
                account.save()
        except IntegrityError:
            # Another request created the same domain first: use theirs.
            account = Account.objects.get(domain=domain)
    return account


@transaction.atomic
def lead_upsert(
    *,
    email: str,
    company: dict[str, Any] | None = None,
    actor=None,
    reason: str = "intake",
    **profile: Any,
) -> tuple[Lead, bool]:
    """Create or merge a lead by normalised email.

    Given non-empty values win (the most recent data wins per field); blanks never erase.
    A new lead with a name, an email and a company starts at ``lead``, otherwise ``subscriber``.
    Returns ``(lead, created)``.
    """
    email = normalise_email(email)
    if not email or "@" not in email:
        raise ValidationError({"email": "A valid email is required."})
    unknown = set(profile) - set(LEAD_PROFILE_FIELDS)
    if unknown:
        raise ValidationError({sorted(unknown)[0]: "Unknown field."})
    account = account_upsert(company=company, email=email, actor=actor) if company else None

    lead = Lead.objects.select_for_update().filter(email=email).first()
    created = lead is None
    if created:
        lead = Lead(email=email)
    for field, value in profile.items():
        if value in (None, ""):
            continue
        setattr(lead, field, value.strip() if isinstance(value, str) else value)
    if not lead.segment:
        lead.segment = "default"
    if account is not None:
        lead.account = account
    lead.title_level = derive_title_level(lead.title)
    if created or lead.email_domain_kind in (EmailDomainKind.CORPORATE, EmailDomainKind.PERSONAL,
                                             EmailDomainKind.EDU):
        lead.email_domain_kind = classify_email_domain(email_domain(email))
    record_change(lead, actor=actor, reason=reason if created else f"{reason}: merged")
    if created:
        try:
            with transaction.atomic():
                lead.save()
        except IntegrityError:
            # A concurrent request created the same email: merge into it instead.
            return lead_upsert(email=email, company=company, actor=actor, reason=reason, **profile)
    else:
        lead.save()
    now = timezone.now()
    if lead.lifecycle_stage == Lead.Stage.SUBSCRIBER and can_proceed(lead.identify):
        lead_transition(lead=lead, transition="identify", actor=actor, reason="name, email and company known",
                        at=now)
    return lead, created


def lead_transition(*, lead: Lead, transition: str, actor=None, reason: str = "", **kwargs: Any) -> Lead:
    """Run one lifecycle transition and save, recording actor and reason.

    Raises ``TransitionNotAllowed`` (not allowed from this stage or a guard failed),
    ``ConcurrentTransition`` (someone else changed the stage first) or ``ValidationError``
    (a required field is missing). Nothing is written when it raises.
    """
    method = getattr(lead, transition, None)
    if method is None or not hasattr(method, "_django_fsm"):
        raise ValidationError({"transition": f"Unknown transition {transition!r}."})
    kwargs.setdefault("at", timezone.now())
    with transaction.atomic():
        method(**kwargs)
        record_change(lead, actor=actor, reason=reason or transition)
        lead.save()
        _on_stage_change(lead=lead, transition=transition, actor=actor)
    return lead


def _on_stage_change(*, lead: Lead, transition: str, actor) -> None:
    """Nurture follows the lifecycle: paused on MQL, resumed on rejection, stopped on customer."""
    stage = lead.lifecycle_stage
    if stage == Lead.Stage.MQL:
        nurture_set_state(lead=lead, state=NurtureEnrollment.State.PAUSED, actor=actor)
    elif stage == Lead.Stage.CUSTOMER:
        nurture_set_state(lead=lead, state=NurtureEnrollment.State.STOPPED, actor=actor)


def nurture_set_state(*, lead: Lead, state: str, actor=None, sequences=None) -> list[NurtureEnrollment]:
    """Move the lead's enrollments to ``state`` where the nurture machine allows it; tell the marketing tool."""
    transition_for = {
        NurtureEnrollment.State.PAUSED: "pause",
        NurtureEnrollment.State.ACTIVE: "resume",
        NurtureEnrollment.State.STOPPED: "stop",
    }[state]
    changed = []
    enrollments = NurtureEnrollment.objects.filter(lead=lead).exclude(state=state)
    if sequences:
        enrollments = enrollments.filter(sequence__in=sequences)
    for enrollment in enrollments.select_for_update():
        method = getattr(enrollment, transition_for)
        if not can_proceed(method):
            continue
        method()
        record_change(enrollment, actor=actor, reason=f"lead is {lead.lifecycle_stage}")
        enrollment.save()
        changed.append(enrollment)
    if changed:
        payload = [
            {"lead": lead.pk, "email": lead.email, "sequence": e.sequence, "state": e.state} for e in changed
        ]
        # The key names each enrollment's new state and time, so a retried job tells the tool once.
        key = "nurture:" + ",".join(f"{e.pk}:{e.state}:{e.updated_at.isoformat()}" for e in changed)
        enqueue_on_commit("revops.notifications.send_webhook", event="nurture.changed", payload=payload,
                          dedupe_key=key[:200])
    return changed


def enqueue_on_commit(func_path: str, **kwargs: Any) -> None:
    """Run the django-q2 job ``func_path`` (a dotted path) once the transaction commits.

    A rolled-back change never notifies; apps name jobs by path, so none imports the layer above.
    """
    from django_q.tasks import async_task

    transaction.on_commit(lambda: async_task(func_path, **kwargs))

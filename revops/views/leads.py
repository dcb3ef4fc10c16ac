"""Rep web app: my queue, the lead page with its actions, my tasks (server-rendered + htmx partials).

Views stay thin: parse with a form, call one service or selector, render. Writes go through
``revops.views.actions`` (the same services as the API). FSM refusals become messages.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_fsm import ConcurrentTransition, TransitionNotAllowed
from django_htmx.http import HttpResponseClientRedirect

from leads.forms import AcceptForm, RejectForm
from leads.selectors import lead_get_for, lead_history
from pipeline.services import task_complete
from revops.forms import ActivityForm, ConvertForm
from revops.views import actions
from revops.views.selectors import queue_for, sla_state, tasks_for

QUEUE_PAGE_SIZE = 50


@login_required
def queue(request):
    filterset, queryset = queue_for(user=request.user, data=request.GET)
    page = Paginator(queryset, QUEUE_PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    for lead in page:
        lead.sla_state = sla_state(due=lead.sla_due, contacted_at=lead.sla_contacted_at,
                                   breached_at=lead.sla_breached_at, now=now)
    context = {"page": page, "filterset": filterset, "now": now, "query": _query_without_page(request)}
    template = "leads/_queue_rows.html" if request.htmx else "leads/queue.html"
    return render(request, template, context)


def _query_without_page(request) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


# ---- lead page ------------------------------------------------------------------------------------

FORMS = {"activity": ActivityForm, "accept": AcceptForm, "reject": RejectForm, "convert": ConvertForm}


def _lead_context(request, lead, bound=None):
    from pipeline.models import Activity, Deal
    from routing.selectors import lead_assignments, lead_sla_current, lead_sla_escalations

    sla = lead_sla_current(lead=lead)
    forms = {name: form_class(prefix=name) for name, form_class in FORMS.items()}
    if lead.account_id and "convert" not in (bound or {}):
        forms["convert"] = ConvertForm(prefix="convert", initial={"name": f"{lead.account.name} - new business"})
    forms.update(bound or {})
    return {
        "lead": lead,
        "history": lead_history(lead=lead),
        "events": list(lead.events.order_by("-occurred_at", "-id")[:100]),
        "activities": list(Activity.objects.filter(lead=lead).select_related("rep").order_by("-occurred_at")[:100]),
        "assignments": list(lead_assignments(lead=lead)),
        "sla": sla,
        "sla_state": sla_state(due=sla.first_contact_due, contacted_at=sla.first_contact_at,
                               breached_at=sla.breached_at) if sla else "none",
        "escalations": list(lead_sla_escalations(sla=sla)) if sla else [],
        "deals": list(Deal.objects.filter(lead=lead).order_by("-created_at")),
        "forms": forms,
        "stage": lead.lifecycle_stage,
    }


@login_required
def lead_detail(request, lead_id: int):
    lead = lead_get_for(user=request.user, lead_id=lead_id)
    return render(request, "leads/lead_detail.html", _lead_context(request, lead))


def _apply_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _run(request, lead_id: int, name: str, call):
    """Shared POST handling: bind the form, call the action, map domain errors next to the field."""
    lead = lead_get_for(user=request.user, lead_id=lead_id)
    form = FORMS[name](request.POST, prefix=name)
    if form.is_valid():
        try:
            message = call(lead, form.cleaned_data)
        except ValidationError as exc:
            _apply_errors(form, exc)
        except ConcurrentTransition:
            form.add_error(None, "Someone else changed this lead just now. Reload the page and try again.")
        except TransitionNotAllowed:
            form.add_error(None, f"Not possible while the lead is {lead.lifecycle_stage}"
                                 f"{'' if lead.owner_id else ' and has no owner'}.")
        else:
            messages.success(request, message)
            url = reverse("leads:detail", args=[lead.pk])
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    lead.refresh_from_db()
    context = _lead_context(request, lead, bound={name: form})
    context["open_form"] = name
    if request.htmx:
        return render(request, f"leads/_form_{name}.html", {**context, "form": form})
    return render(request, "leads/lead_detail.html", context, status=400)


@login_required
@require_POST
def lead_log_activity(request, lead_id: int):
    def call(lead, data):
        actions.log_activity(lead=lead, actor=request.user, kind=data["kind"], occurred_at=data["occurred_at"],
                             note=data["note"])
        return f"{data['kind'].capitalize()} logged."

    return _run(request, lead_id, "activity", call)


@login_required
@require_POST
def lead_accept(request, lead_id: int):
    def call(lead, data):
        actions.accept_lead(lead=lead, actor=request.user, budget=data["budget"], authority=data["authority"],
                            need=data["need"], timeline=data["timeline"])
        return "Lead accepted: it is now a sales-qualified lead."

    return _run(request, lead_id, "accept", call)


@login_required
@require_POST
def lead_reject(request, lead_id: int):
    def call(lead, data):
        actions.reject_lead(lead=lead, actor=request.user, reason_code=data["reason_code"],
                            contract_renewal_date=data.get("contract_renewal_date"))
        return f"Lead rejected ({data['reason_code'].code}): it is now {lead.lifecycle_stage}."

    return _run(request, lead_id, "reject", call)


@login_required
@require_POST
def lead_convert(request, lead_id: int):
    def call(lead, data):
        deal = actions.convert_lead(lead=lead, actor=request.user, name=data["name"], amount=data["amount"],
                                    close_date=data["close_date"])
        return f"Converted: deal “{getattr(deal, 'name', data['name'])}” opened."

    return _run(request, lead_id, "convert", call)


# ---- my tasks -------------------------------------------------------------------------------------


@login_required
def my_tasks(request):
    now = timezone.now()
    tasks = list(tasks_for(user=request.user)[:200])
    for task in tasks:
        task.state = sla_state(due=task.due_at, now=now) if task.due_at else "none"
    return render(request, "leads/tasks.html", {"tasks": tasks, "now": now})


@login_required
@require_POST
def task_done(request, task_id: int):
    """Mark one of my tasks done (the same service as the API); the list shows what is still open."""
    task = tasks_for(user=request.user, include_done=True).filter(pk=task_id).first()
    if task is None:
        raise PermissionDenied("Not your task.")
    task_complete(task=task, actor=request.user)
    messages.success(request, f"Done: {task.title}")
    return redirect(reverse("leads:tasks"))

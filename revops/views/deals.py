"""Deal board (columns by stage, cards with flags), moving a card with its required fields, approvals inbox."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_fsm import ConcurrentTransition, TransitionNotAllowed
from django_htmx.http import HttpResponseClientRedirect

from leads import access
from revops.forms import ApprovalDecisionForm, deal_move_form
from revops.views import actions
from revops.views.selectors import approvals_inbox_for, board_for


def _require_scope(user):
    if access.scope_for(user) == access.NONE:
        raise PermissionDenied("You have no sales profile.")


@login_required
def board(request):
    _require_scope(request.user)
    from pipeline.models import Deal

    return render(request, "deals/board.html", {"columns": board_for(user=request.user),
                                                "stages": Deal.Stage.choices})


def _deal(request, deal_id):
    from pipeline.selectors import deal_get_for

    return deal_get_for(user=request.user, deal_id=deal_id)


@login_required
def move(request, deal_id: int):
    """GET: the form for the target stage (``?to=``); POST: the move through pipeline.services."""
    from pipeline.models import Deal

    deal = _deal(request, deal_id)
    to = request.POST.get("to") or request.GET.get("to") or ""
    if to not in Deal.Stage.values:
        return render(request, "deals/_move_form.html", {"deal": deal, "form": None, "to": to,
                                                         "error": "Choose a stage."}, status=400)
    form = deal_move_form(to, deal, data=request.POST if request.method == "POST" else None)
    context = {"deal": deal, "form": form, "to": to, "to_label": Deal.Stage(to).label}
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        reason = data.pop("reason", "")
        try:
            actions.move_deal(deal=deal, actor=request.user, to=to, fields=data, reason=reason)
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for field, errors in exc.message_dict.items():
                    if field == "missing_fields":
                        form.add_error(None, "Fill in: " + ", ".join(errors))
                    else:
                        form.add_error(field if field in form.fields else None, errors)
            else:
                form.add_error(None, exc.messages)
        except ConcurrentTransition:
            form.add_error(None, "Someone else moved this deal just now. Reload the board and try again.")
        except TransitionNotAllowed:
            form.add_error(None, f"A deal in {deal.get_stage_display()} cannot move to {Deal.Stage(to).label}.")
        else:
            messages.success(request, f"“{deal.name}” moved to {Deal.Stage(to).label}.")
            url = reverse("web:deal-board")
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    status = 400 if request.method == "POST" else 200
    template = "deals/_move_form.html" if request.htmx else "deals/move.html"
    return render(request, template, context, status=200 if request.htmx else status)


@login_required
def approvals(request):
    _require_scope_or_approver(request.user)
    inbox = approvals_inbox_for(user=request.user)
    return render(request, "deals/approvals.html", {"inbox": inbox, "form": ApprovalDecisionForm()})


def _require_scope_or_approver(user):
    from pipeline.selectors import is_approver

    if access.scope_for(user) == access.NONE and not is_approver(user=user):
        raise PermissionDenied("You have no sales profile.")


@login_required
@require_POST
def approval_decide(request, approval_id: int):
    from pipeline.models import Approval

    approval = get_object_or_404(Approval.objects.select_related("deal"), pk=approval_id)
    form = ApprovalDecisionForm(request.POST)
    if form.is_valid():
        try:
            actions.decide_approval(approval=approval, actor=request.user,
                                    approve=form.cleaned_data["decision"] == "approve",
                                    note=form.cleaned_data["note"])
        except ValidationError as exc:
            messages.error(request, "; ".join(exc.messages))
        except (TransitionNotAllowed, ConcurrentTransition):
            messages.error(request, "This approval was already decided.")
        else:
            messages.success(request, f"Approval for “{approval.deal.name}” recorded.")
    else:
        messages.error(request, "Choose approve or reject.")
    return redirect("web:approvals")

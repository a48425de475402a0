"""Retention rules (auditors): write, approve, retire and pause them, and see each rule's dry run
and its runs. A refused change answers 409 (or 400 for a form that is not valid), never a redirect
that could hide it."""

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from recordings.forms import RetentionRuleForm, SparedForm, VersionForm
from recordings.models import RetentionRule
from recordings.retention import matching, rules
from recordings.retention import runs as retention_runs
from recordings.roles import auditor_required
from recordings.views.common import SignedInRequest, actor_of, form_errors


@auditor_required
@require_http_methods(["GET", "POST"])
def rule_list(request: SignedInRequest) -> HttpResponse:
    """Every rule with its state, the pause switch, and the form that writes a new rule."""
    if request.method == "POST":
        form = RetentionRuleForm(request.POST)
        if form.is_valid():
            try:
                rule = rules.create_rule(actor=actor_of(request), **form.cleaned_data)
            except rules.RuleRefused as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"Rule “{rule.name}” written.")
                return redirect("recordings:retention_rule", rule_id=rule.pk)
        status = 400
    else:
        form = RetentionRuleForm(initial={"filter_query": request.GET.get("view", "")})
        status = 200
    return render_rules(request, form=form, status=status)


def render_rules(request: SignedInRequest, *, form: RetentionRuleForm, status: int) -> HttpResponse:
    context = {"rules": RetentionRule.objects.select_related("changed_by"), "form": form, "switch": rules.switch()}
    return render(request, "recordings/retention_rules.html", {**context, **schedule()}, status=status)


def schedule() -> dict[str, object]:
    return {
        "retention_hour": settings.RETENTION_HOUR,
        "dashboard_zone": settings.TIME_ZONE,
        "next_run": retention_runs.next_run_at(timezone.now()),
        "max_per_run": settings.RETENTION_MAX_PER_RUN,
        "grace_days": settings.RETENTION_GRACE_DAYS,
    }


@auditor_required
@require_http_methods(["GET", "POST"])
def rule_detail(request: SignedInRequest, rule_id: int) -> HttpResponse:
    """The rule, what it would do today, its runs; a POST changes it (the version shown, only)."""
    rule = get_object_or_404(RetentionRule, pk=rule_id)
    if request.method != "POST":
        return render_rule(request, rule, form=RetentionRuleForm(initial=initial_of(rule)))
    form, version = RetentionRuleForm(request.POST), VersionForm(request.POST)
    if not (form.is_valid() and version.is_valid()):
        return render_rule(request, rule, form=form, error=form_errors(form, version), status=400)
    try:
        rule = rules.change_rule(
            actor=actor_of(request), rule_id=rule.pk, version=version.cleaned_data["version"], **form.cleaned_data
        )
    except rules.RuleRefused as exc:
        return render_rule(request, rule, form=form, error=str(exc), status=409)
    messages.success(request, f"Rule “{rule.name}” changed.")
    return redirect("recordings:retention_rule", rule_id=rule.pk)


def initial_of(rule: RetentionRule) -> dict[str, object]:
    return {"name": rule.name, "action": rule.action, "age_days": rule.age_days, "filter_query": rule.filter_query}


def render_rule(
    request: SignedInRequest, rule: RetentionRule, *, form: RetentionRuleForm, error: str = "", status: int = 200
) -> HttpResponse:
    definition = matching.current(rule)
    in_effect = matching.effective(rule)
    grace_ends = rules.grace_ends(rule)
    dry_run = None
    if definition.action == RetentionRule.Action.DELETE:
        try:
            dry_run = matching.dry_run(definition, limit=settings.RETENTION_MAX_PER_RUN)
        except matching.BrokenKeepRule as exc:
            error = " ".join(filter(None, [error, f"{exc} No rule deletes anything until then."]))
    return render(
        request,
        "recordings/retention_rule.html",
        {
            "rule": rule,
            "form": form,
            "error": error,
            "filter": definition.filterset(),
            "dry_run": dry_run,
            "in_effect": rules.describe(in_effect) if rule.awaits_since else "",
            "grace_ends": grace_ends,
            "grace_over": grace_ends is not None and grace_ends <= timezone.now(),
            "may_approve": rule.awaits_since is not None and rule.defined_by_id != request.user.pk,
            "runs": retention_runs.with_outcomes(rule.runs.all())[:30],
            "table_url": f"{reverse('recordings:list')}?{definition.filter_query}",
            "switch": rules.switch(),
            **schedule(),
        },
        status=status,
    )


@auditor_required
@require_GET
def rule_spared(request: SignedInRequest, rule_id: int) -> HttpResponse:
    """What a delete rule's dry run spares (legal holds, keep rules), asked by its page's script
    once the page has answered: for the version of the rule and the figures that page showed, or
    409, so that no count stands beside figures of another definition or other data (400 for a
    version or figures key that is missing or malformed)."""
    rule = get_object_or_404(RetentionRule, pk=rule_id)
    shown = SparedForm(request.GET)
    if not shown.is_valid():
        return HttpResponse("Which version of the rule, and which figures?", status=400, content_type="text/plain")
    if shown.cleaned_data["version"] != rule.version or rule.action != RetentionRule.Action.DELETE:
        return HttpResponse("The rule changed since: look at it again.", status=409, content_type="text/plain")
    try:
        spared = matching.spared_by(
            matching.current(rule), key=shown.cleaned_data["figures"], limit=settings.RETENTION_MAX_PER_RUN
        )
    except matching.BrokenKeepRule as exc:
        return HttpResponse(str(exc), status=409, content_type="text/plain")
    if spared is None:
        return HttpResponse(
            "Holds, keep rules or recordings changed since: look at the page again.",
            status=409,
            content_type="text/plain",
        )
    context = {"spared": spared, "max_per_run": settings.RETENTION_MAX_PER_RUN}
    return render(request, "recordings/_dry_run_spared.html", context)


@auditor_required
@require_POST
def approve_rule(request: SignedInRequest, rule_id: int) -> HttpResponse:
    return act_on_version(request, rule_id, rules.approve_rule, "Approved: the rule applies from its next run.")


@auditor_required
@require_POST
def retire_rule(request: SignedInRequest, rule_id: int) -> HttpResponse:
    return act_on_version(request, rule_id, rules.retire_rule, "Rule retired.")


def act_on_version(request: SignedInRequest, rule_id: int, act: "rules.VersionedAction", success: str) -> HttpResponse:
    rule = get_object_or_404(RetentionRule, pk=rule_id)
    version = VersionForm(request.POST)
    form = RetentionRuleForm(initial=initial_of(rule))
    if not version.is_valid():
        return render_rule(
            request, rule, form=form, error="That form is out of date: look at the rule again.", status=400
        )
    try:
        act(actor=actor_of(request), rule_id=rule.pk, version=version.cleaned_data["version"])
    except rules.RuleRefused as exc:
        return render_rule(request, rule, form=form, error=str(exc), status=409)
    messages.success(request, success)
    return redirect("recordings:retention_rule", rule_id=rule.pk)


@auditor_required
@require_POST
def pause(request: SignedInRequest) -> HttpResponse:
    paused = request.POST.get("paused")
    if paused not in ("1", "0"):
        messages.error(request, "Say whether to pause or to resume retention.")
        return render_rules(request, form=RetentionRuleForm(), status=400)
    try:
        rules.set_paused(actor=actor_of(request), paused=paused == "1")
    except rules.RuleRefused as exc:
        messages.info(request, str(exc))
    else:
        messages.success(request, "Every retention rule is paused." if paused == "1" else "Retention resumed.")
    return redirect("recordings:retention")

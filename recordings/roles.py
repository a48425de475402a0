"""The two roles. Support browses, plays and downloads; Auditors also audit. Superusers are auditors."""

from django.contrib.auth.decorators import permission_required
from django.contrib.auth.models import AnonymousUser, Group, User

SUPPORT = "Support"
AUDITORS = "Auditors"
ROLES = {"support": SUPPORT, "auditor": AUDITORS}
GROUP_PERMISSIONS = {SUPPORT: ["listen"], AUDITORS: ["listen", "audit"]}

LISTEN = "recordings.listen"
AUDIT = "recordings.audit"
SHARE = "recordings.share"  # given to users one by one (in the admin): no role has it of itself

listener_required = permission_required(LISTEN, raise_exception=True)
auditor_required = permission_required(AUDIT, raise_exception=True)


def is_auditor(user: User | AnonymousUser) -> bool:
    return user.has_perm(AUDIT)


def can_share(user: User | AnonymousUser) -> bool:
    """Whether the user may make and revoke links to a recording for someone without an account."""
    return user.has_perm(LISTEN) and (user.has_perm(AUDIT) or user.has_perm(SHARE))


def role_group(name: str) -> Group:
    """The role's group; made here too (the data migration makes them) for databases flushed since."""
    from django.contrib.auth.models import Permission

    group, created = Group.objects.get_or_create(name=name)
    if created:
        group.permissions.set(
            Permission.objects.filter(content_type__app_label="recordings", codename__in=GROUP_PERMISSIONS[name])
        )
    return group

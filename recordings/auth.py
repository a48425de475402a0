from functools import cache

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AnonymousUser, Group, Permission, User
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import Model


class RoleBackend(ModelBackend):
    """ModelBackend reading a user's permissions in one short query where it makes two ORM ones.

    Every page checks the role (listen, and audit for what only auditors see), so this query runs on
    every request. As a UNION of two ORM querysets it cost 1.1 ms on PostgreSQL, mostly compiling
    their joins; the same rows in plain SQL cost 0.3 ms. Folding the check into the query that reads
    the user (EXISTS subqueries) was measured slower still. The set is kept on the user object for
    the request (as ModelBackend keeps its own); a user read again is asked again.
    """

    CACHE_ATTRIBUTE = "_role_permissions"

    def get_all_permissions(self, user_obj: User | AnonymousUser, obj: Model | None = None) -> set[str]:
        if user_obj.is_superuser or obj is not None:
            return super().get_all_permissions(user_obj, obj)
        if not user_obj.is_active or user_obj.is_anonymous:
            return set()
        if not hasattr(user_obj, self.CACHE_ATTRIBUTE):
            with connection.cursor() as cursor:
                cursor.execute(permissions_sql(), [user_obj.pk, user_obj.pk])
                permissions = {f"{app_label}.{codename}" for app_label, codename in cursor.fetchall()}
            setattr(user_obj, self.CACHE_ATTRIBUTE, permissions)
        cached: set[str] = getattr(user_obj, self.CACHE_ATTRIBUTE)
        return cached


@cache
def permissions_sql() -> str:
    """A user's own permissions and their groups', as (app_label, codename); the user's id twice."""

    def table(model: type[Model]) -> str:
        return connection.ops.quote_name(model._meta.db_table)

    user_model = get_user_model()
    own = user_model.user_permissions.through
    in_group = user_model.groups.through
    group_permissions = Group.permissions.through
    return (
        f"SELECT ct.app_label, p.codename FROM {table(Permission)} p "
        f"JOIN {table(ContentType)} ct ON ct.id = p.content_type_id "
        f"WHERE p.id IN (SELECT permission_id FROM {table(own)} WHERE user_id = %s "
        f"UNION SELECT gp.permission_id FROM {table(group_permissions)} gp "
        f"JOIN {table(in_group)} ug ON ug.group_id = gp.group_id WHERE ug.user_id = %s)"
    )

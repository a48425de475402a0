import getpass
import os
import sys
from argparse import ArgumentParser
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from recordings.roles import ROLES, role_group

PASSWORD_VARIABLE = "DASHBOARD_PASSWORD"


class Command(BaseCommand):
    help = (
        "Create a dashboard user in a role. The password comes from a prompt, or from the "
        f"{PASSWORD_VARIABLE} environment variable when there is no terminal; never from an argument."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", choices=sorted(ROLES), required=True)
        parser.add_argument("--email", default="")

    def handle(self, *args: Any, username: str, role: str, email: str, **options: Any) -> None:
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            raise CommandError(f"a user named {username!r} already exists")
        password = self.read_password()
        user = User(username=username, email=email)
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise CommandError("the password is too weak: " + " ".join(exc.messages)) from None
        user.set_password(password)
        user.save()
        user.groups.add(role_group(ROLES[role]))
        self.stdout.write(f"Created {username} ({ROLES[role]}).")

    def read_password(self) -> str:
        password = os.environ.get(PASSWORD_VARIABLE)
        if password:
            return password
        if not sys.stdin.isatty():
            raise CommandError(f"no terminal to ask for the password on: set {PASSWORD_VARIABLE}")
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Password (again): "):
            raise CommandError("the two passwords differ")
        return password

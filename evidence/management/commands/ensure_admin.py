import os
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Create an admin user if none exists. Login from ADMIN_USERNAME / ADMIN_PASSWORD, "
        "or username 'admin' with a random password that is printed once."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        username = os.environ.get("ADMIN_USERNAME", "admin")
        if User.objects.filter(username=username).exists():
            self.stdout.write(f"Admin user “{username}” already exists; its password is unchanged.")
            return
        password = os.environ.get("ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
        shown = password if "ADMIN_PASSWORD" not in os.environ else "(from ADMIN_PASSWORD)"
        self.stdout.write(self.style.SUCCESS(f"Admin login for /admin/: {username} / {shown}"))

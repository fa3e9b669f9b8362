from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from api import tokens


class Command(BaseCommand):
    help = "Issue an API token for a user and print its key (shown this once; only a digest is kept)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("name", help="What the token is for.")
        parser.add_argument("--days", type=int, default=None, help="Lifetime (default: API_TOKEN_DAYS).")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model()._default_manager.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"There is no user “{options['username']}”.")
        try:
            token, key = tokens.issue(user=user, name=options["name"], days=options["days"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{key}\n")
        self.stderr.write(f"Token {token.prefix}… for {user}, valid until {token.expires_at:%Y-%m-%d %H:%M} UTC.")

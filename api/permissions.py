"""Who may call what: reading is open (each view reads through `visible_to`), writing follows
the caller's role on the map (evidence.roles)."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request


class MapRolePermission(BasePermission):
    """Reads for anyone; a write needs a signed-in user with the role that writing the view's
    model needs (`write_role`: reviewer for studies and effect sizes) on at least one map. The
    record's own map is checked by studies.services.authorize on every write, which answers
    403 naming the role that is missing."""

    message = "Writing needs a role on the map (reviewer for studies and effect sizes)."

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in SAFE_METHODS:
            return True
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        queryset = getattr(view, "queryset", None)
        role = getattr(getattr(queryset, "model", None), "write_role", None)
        return bool(role and user.has_perm(f"evidence.{role}"))

"""API tokens in the admin: each user sees, issues and revokes their own (superusers: all)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from api import tokens
from api.models import ApiToken


class IssueTokenForm(forms.ModelForm[ApiToken]):
    days = forms.IntegerField(
        min_value=1, max_value=settings.API_TOKEN_MAX_DAYS, initial=settings.API_TOKEN_DAYS,
        help_text="How long the token works.",
    )

    class Meta:
        model = ApiToken
        fields = ["name"]


@admin.register(ApiToken)
class ApiTokenAdmin(SimpleHistoryAdmin):  # type: ignore[misc]
    list_display = ("prefix", "name", "user", "created_at", "expires_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix")
    actions = ("revoke",)
    readonly_fields = ("user", "name", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiToken]:
        rows: QuerySet[ApiToken] = super().get_queryset(request).select_related("user")
        owner: Any = request.user
        return rows if request.user.is_superuser else rows.filter(user=owner)

    # Every signed-in staff member manages their own tokens, without a model permission.
    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    def has_view_permission(self, request: HttpRequest, obj: ApiToken | None = None) -> bool:
        return self.has_module_permission(request) and (
            obj is None or obj.user_id == request.user.pk or request.user.is_superuser
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.has_module_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: ApiToken | None = None) -> bool:
        return False  # a token is issued and revoked, never edited

    def has_delete_permission(self, request: HttpRequest, obj: ApiToken | None = None) -> bool:
        return False  # revoked, so that its history stays

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return self.has_module_permission(request)

    def get_form(self, request: HttpRequest, obj: ApiToken | None = None, change: bool = False,
                 **kwargs: Any) -> type[ModelForm[Any]]:
        if obj is None:
            kwargs["form"] = IssueTokenForm
        return super().get_form(request, obj, change=change, **kwargs)  # type: ignore[no-any-return]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> Any:
        return () if obj is None else self.readonly_fields

    def get_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> Any:
        return ("name", "days") if obj is None else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: ApiToken, form: ModelForm[Any], change: bool) -> None:
        issued, key = tokens.issue(user=request.user, name=obj.name, days=form.cleaned_data["days"])
        obj.pk = issued.pk
        self.message_user(
            request, f"Your new token (copy it now; it is not shown again): {key}", messages.WARNING,
        )

    @admin.action(description="Revoke the selected tokens", permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        for token in queryset:
            tokens.revoke(token=token, user=request.user)
        self.message_user(request, f"{queryset.count()} token(s) revoked.", messages.SUCCESS)

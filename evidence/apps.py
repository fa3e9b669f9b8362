from django.apps import AppConfig


class EvidenceConfig(AppConfig):
    name = "evidence"
    verbose_name = "Evidence maps"

    def ready(self) -> None:
        from evidence import roles, versions

        versions.connect()
        roles.register()

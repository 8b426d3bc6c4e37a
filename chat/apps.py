from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = "Chat"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from chat import receivers
        from chat.search_index import ensure_sqlite_triggers

        receivers.connect()
        # A migration that alters chat_chatmessage on SQLite drops its search triggers (chat.search_index).
        post_migrate.connect(ensure_sqlite_triggers, sender=self, dispatch_uid="chat-search-triggers")

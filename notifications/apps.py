from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Push notifications"

    def ready(self) -> None:
        from chat import domain_events
        from notifications import receivers

        domain_events.messages_storing.connect(receivers.read_message_devices, dispatch_uid="notifications.devices")
        domain_events.messages_stored.connect(receivers.queue_message_pushes, dispatch_uid="notifications.message")
        domain_events.chat_read.connect(receivers.queue_read_pushes, dispatch_uid="notifications.read")

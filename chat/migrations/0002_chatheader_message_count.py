from django.db import migrations, models
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce


def count_existing(apps, schema_editor):
    ChatHeader = apps.get_model("chat", "ChatHeader")
    ChatMessage = apps.get_model("chat", "ChatMessage")
    visible = (
        ChatMessage.objects.filter(chat_id=OuterRef("pk"), is_deleted=False)
        .order_by()
        .values("chat_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    ChatHeader.objects.update(message_count=Coalesce(Subquery(visible, output_field=IntegerField()), Value(0)))


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="chatheader",
            name="message_count",
            field=models.PositiveIntegerField(default=0, help_text="Messages that are not deleted."),
        ),
        migrations.RunPython(count_existing, migrations.RunPython.noop),
    ]

from django.db import migrations, models
from django.db.models import Exists, OuterRef


def mark_sent(apps, schema_editor):
    """Uploads that messages already carry count as sent, so that the files of their deleted
    messages stop being served at once."""
    Upload = apps.get_model("uploads", "Upload")
    ChatMessage = apps.get_model("chat", "ChatMessage")
    carried = ChatMessage.objects.filter(
        message_type__gt=0, message=OuterRef("path"), message_type=OuterRef("message_type")
    )
    Upload.objects.filter(Exists(carried)).update(sent_time=models.F("creation_time"))


class Migration(migrations.Migration):
    dependencies = [
        ("uploads", "0001_initial"),
        ("chat", "0003_chatmessage_media_path_idx"),
    ]

    operations = [
        migrations.AddField(
            model_name="upload",
            name="sent_time",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(mark_sent, migrations.RunPython.noop),
    ]

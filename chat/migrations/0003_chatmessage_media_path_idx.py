from django.db import migrations, models
from django.db.models import Q


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0002_chatheader_message_count"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="chatmessage",
            index=models.Index(fields=["message"], condition=Q(message_type__gt=0), name="chatmessage_media_path_idx"),
        ),
    ]

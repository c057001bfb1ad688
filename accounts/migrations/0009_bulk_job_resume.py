from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0008_people_version"),
    ]

    operations = [
        migrations.AddField(
            model_name="bulkjob",
            name="params",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="bulkjob",
            name="resume_after",
            field=models.PositiveBigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="bulkjob",
            name="tally",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]

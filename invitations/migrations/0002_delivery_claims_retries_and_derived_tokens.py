import invitations.tokens
from django.db import migrations, models


def give_unsent_rows_a_nonce(apps, schema_editor):
    """Rows already sent are never rendered again; the others will be, from their nonce."""
    Invitation = apps.get_model("invitations", "Invitation")
    rows = list(Invitation.objects.exclude(delivery="sent").only("pk"))
    for row in rows:
        row.nonce = invitations.tokens.new_nonce()
    Invitation.objects.bulk_update(rows, ["nonce"], batch_size=1000)


class Migration(migrations.Migration):

    dependencies = [
        ('invitations', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='invitation',
            name='claim_task_id',
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name='invitation',
            name='claimed_by',
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AddField(
            model_name='invitation',
            name='claimed_until',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='invitation',
            name='next_attempt_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        # Each row its own nonce: the callable default would give every existing row the same one.
        migrations.AddField(
            model_name='invitation',
            name='nonce',
            field=models.CharField(default='', editable=False, max_length=64),
        ),
        migrations.RunPython(give_unsent_rows_a_nonce, migrations.RunPython.noop),
        migrations.AlterField(
            model_name='invitation',
            name='nonce',
            field=models.CharField(default=invitations.tokens.new_nonce, editable=False, max_length=64),
        ),
    ]

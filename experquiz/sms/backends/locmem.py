from .base import BaseSmsBackend


class SmsBackend(BaseSmsBackend):
    """Tests: keep the messages in `experquiz.sms.outbox`."""

    def send_messages(self, messages) -> int:
        from experquiz import sms

        sms.outbox.extend(messages)
        return len(messages)

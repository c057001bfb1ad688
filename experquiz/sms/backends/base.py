class BaseSmsBackend:
    """Backends send a list of SmsMessage and return how many were sent; failures raise SmsError."""

    def __init__(self, **kwargs):
        pass

    def open(self):
        pass

    def close(self):
        pass

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc):
        self.close()

    def send_messages(self, messages) -> int:
        raise NotImplementedError

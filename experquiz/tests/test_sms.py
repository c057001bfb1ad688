import io
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from experquiz import sms
from experquiz.sms.backends import console, http, locmem
from experquiz.sms.gsm import septets, to_gsm
from invitations.tests.realworld import SmsGateway


@pytest.fixture
def gateway():
    server = SmsGateway(token="t0ken")
    server.start()
    yield server
    server.stop()


def test_the_backend_follows_sms_backend_then_sms_url(settings):
    settings.SMS_BACKEND, settings.SMS_URL = "", ""
    assert isinstance(sms.get_connection(), console.SmsBackend)
    settings.SMS_URL = "http://127.0.0.1:9/send"
    assert isinstance(sms.get_connection(), http.SmsBackend)
    settings.SMS_BACKEND = "experquiz.sms.backends.locmem.SmsBackend"
    assert isinstance(sms.get_connection(), locmem.SmsBackend)


def test_the_console_backend_prints_the_message():
    stream = io.StringIO()
    sms.send_sms("+33612345678", "Hello", connection=console.SmsBackend(stream=stream))
    assert "SMS to +33612345678: Hello" in stream.getvalue()


def test_the_http_backend_posts_json_with_the_bearer_token(gateway):
    backend = http.SmsBackend(url=gateway.url, token="t0ken")
    assert sms.send_sms("+33612345678", "Bonjour é", connection=backend) == 1
    assert gateway.posts == [{"to": "+33612345678", "body": "Bonjour é"}]


def test_a_non_2xx_answer_is_a_transient_failure(gateway):
    gateway.failing = True
    with pytest.raises(sms.SmsError) as exc:
        sms.send_sms("+33612345678", "Hi", connection=http.SmsBackend(url=gateway.url, token="t0ken"))
    assert exc.value.transient and "503" in str(exc.value)
    assert exc.value.outage, "a gateway that says it is unavailable is an outage, no fault of the message"


def test_a_gateway_answering_an_error_about_the_message_is_no_outage(gateway):
    gateway.token = "another"  # 401: the gateway is up, and refuses this request
    with pytest.raises(sms.SmsError) as exc:
        sms.send_sms("+33612345678", "Hi", connection=http.SmsBackend(url=gateway.url, token="t0ken"))
    assert exc.value.transient and not exc.value.outage


def test_a_refused_connection_and_a_timeout_are_transient_failures():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(sms.SmsError) as exc:
        sms.send_sms("+33612345678", "Hi", connection=http.SmsBackend(url=f"http://127.0.0.1:{port}/", token=""))
    assert exc.value.transient and exc.value.outage

    class Slow(BaseHTTPRequestHandler):
        def do_POST(self):
            time.sleep(2)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        backend = http.SmsBackend(url=f"http://127.0.0.1:{server.server_address[1]}/", token="", timeout=0.3)
        with pytest.raises(sms.SmsError) as exc:
            sms.send_sms("+33612345678", "Hi", connection=backend)
        assert exc.value.transient and exc.value.outage
    finally:
        server.shutdown()
        server.server_close()


def test_gsm_length_counts_extended_characters_twice_and_replaces_the_others():
    assert septets("Créez votre compte") == 18
    assert septets("€[]") == 6
    with pytest.raises(ValueError):
        septets("ê")
    assert to_gsm("Forêt « Ça » – août") == 'Foret " Ça " - aout'

"""For the multi-process test only (experquiz.settings.multiprocess_for_tests): each answer says which
web worker process served it."""

import os


class WorkerPidMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response["X-Worker-PID"] = str(os.getpid())
        return response

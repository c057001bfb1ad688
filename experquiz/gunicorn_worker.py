"""gunicorn's threaded worker, taking a new connection only while one of its threads is free.

gunicorn's `gthread` worker accepts every connection it is offered, up to `worker_connections` (1,000),
whether or not a thread is free to answer it. Its workers share one listening socket, so whichever
wakes first takes the connections that arrive together, and a connection stays with the worker that
took it for as long as the client keeps it (HTTP keep-alive). Measured on the link pages (bench/tokens.py,
2 workers, 8 kept connections): in 4 of 12 five-second samples one worker held nearly every
connection, the other idled, and the pages answered at half their rate (357–398 req/s against 660–860).

This worker stops accepting while all of its threads are answering requests: the connection waits in
the socket's queue for a worker with a free thread, here or in another process. Kept connections are
still served as before (each request of one waits for a thread of its worker), and the limit of
`worker_connections` still holds.

It depends on `ThreadWorker`'s `enqueue_req`, `finish_request` and `worker_connections` (gunicorn 27.0;
requirements.txt pins the version): should a later gunicorn stop using any of them, this worker would
behave as gthread's, and experquiz/tests/test_gunicorn_worker.py fails.
"""

from gunicorn.workers.gthread import ThreadWorker


class BalancedThreadWorker(ThreadWorker):
    def __init__(self, *args, **kwargs):
        self.busy_threads = 0  # requests handed to the thread pool and not finished yet
        self._connection_limit = 0
        super().__init__(*args, **kwargs)

    # The run loop accepts while `nr_conns < worker_connections`: while every thread is busy, the
    # limit is the connections it already holds.
    @property
    def worker_connections(self):
        if self.busy_threads >= self.cfg.threads:
            return self.nr_conns
        return self._connection_limit

    @worker_connections.setter
    def worker_connections(self, value):
        self._connection_limit = value

    def enqueue_req(self, conn):
        self.busy_threads += 1
        super().enqueue_req(conn)

    def finish_request(self, conn, fs):
        # Runs on the main thread, as enqueue_req does: the count needs no lock.
        self.busy_threads -= 1
        super().finish_request(conn, fs)

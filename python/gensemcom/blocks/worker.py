# SPDX-License-Identifier: GPL-3.0-or-later
"""Message-block base classes: explicit end-of-stream handling and a worker thread for slow work.

``message_block``: GNU Radio ends a message block at the first ``done`` that any upstream
neighbour sends, and handles the ``system`` port before the block's other queued messages.
On ``done`` our blocks first handle everything already queued, then call
``on_upstream_done()`` (the reassembler flushes, a worker waits for its queue to empty) and
set ``upstream_done``. Blocks in a single chain (``finish_on_done`` True: encoder,
fragmenter, reassembler, decoder, sinks) then finish and pass ``done`` on, so a finite
flowgraph (a SigMF file, a list of images) ends by itself; blocks with several inputs
(metrics, display) keep running until the flowgraph stops, since the first ``done`` would
not mean that every input has ended.

``worker_block``: runs slow work (model inference) in a worker thread. The scheduler thread
only enqueues: a full queue drops a message (the oldest or the new one, by policy) and
counts it, so a slow model never blocks the PHY. Models load once, in ``start()``.
"""
import collections
import queue
import threading
import time

import pmt
from gnuradio import gr

DROP_POLICIES = ("drop_oldest", "drop_newest")
DONE = pmt.intern("done")


class message_block(gr.basic_block):
    """Base class of the module's message-only blocks (see module docstring)."""

    finish_on_done = True

    def __init__(self, name):
        gr.basic_block.__init__(self, name=name, in_sig=None, out_sig=None)
        self._inputs = {}
        self.upstream_done = threading.Event()
        self.ended = threading.Event()         # upstream done and, if it finishes, ``done`` passed on
        self.set_msg_handler(pmt.intern("system"), self._on_system)

    def register_input(self, port, handler):
        """Register message input ``port`` handled by the bound method ``handler``."""
        self.message_port_register_in(pmt.intern(port))
        self.set_msg_handler(pmt.intern(port), handler)
        self._inputs[port] = handler

    def on_upstream_done(self):
        """Called once everything queued before an upstream ``done`` was handled."""

    def _on_system(self, msg):
        if not (pmt.is_pair(msg) and pmt.eqv(pmt.car(msg), DONE)):
            return
        for port, handler in self._inputs.items():
            while True:
                queued = self.delete_head_nowait(pmt.intern(port))
                if queued is None or pmt.is_null(queued):
                    break
                handler(queued)
        self.on_upstream_done()
        self.upstream_done.set()
        if self.finish_on_done:
            self.finish(msg)
        else:
            self.ended.set()

    def finish(self, msg):
        """End the block and pass ``done`` (the system message ``msg``) on."""
        self.ended.set()
        self.system_handler(msg)


class worker_block(message_block):
    """Base class: message port ``in`` → ``process(msg)`` in a worker thread → output ports.

    Subclasses register their output ports, implement ``process(msg)`` returning an iterable
    of ``(port_name, pmt_message)``, and may implement ``load()`` (called once at start).

    queue_size   messages waiting at most (>= 1)
    drop_policy  "drop_oldest" or "drop_newest" when the queue is full
    """

    def __init__(self, name, queue_size=8, drop_policy="drop_oldest"):
        message_block.__init__(self, name)
        if int(queue_size) < 1:
            raise ValueError(f"{name}: queue_size must be >= 1, got {queue_size}")
        if drop_policy not in DROP_POLICIES:
            raise ValueError(f"{name}: drop_policy must be one of {', '.join(DROP_POLICIES)}, got {drop_policy!r}")
        self.queue_size = int(queue_size)
        self.drop_policy = drop_policy
        self._queue = queue.Queue(maxsize=self.queue_size)
        self._thread = None
        self._running = threading.Event()
        self._idle = threading.Condition()
        self._busy = False
        self._loaded = False
        self.stats = collections.Counter(received=0, processed=0, dropped=0, errors=0, queue_high_water=0)
        self.last_error = None
        self.last_exception = None
        self.register_input("in", self._enqueue)

    # -- subclass hooks -------------------------------------------------------------
    def load(self):
        """Load models and other heavy state (called once, before the first message)."""

    def process(self, msg):
        """Handle one message; return an iterable of (port_name, pmt message)."""
        raise NotImplementedError

    def on_upstream_done(self):
        self.wait_idle()

    # -- scheduler side ---------------------------------------------------------------
    def _enqueue(self, msg):
        self.stats["received"] += 1
        try:
            self._queue.put_nowait(msg)
        except queue.Full:
            self.stats["dropped"] += 1
            if self.drop_policy == "drop_oldest":
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    pass
                try:
                    self._queue.put_nowait(msg)
                except queue.Full:
                    pass
        self.stats["queue_high_water"] = max(self.stats["queue_high_water"], self._queue.qsize())

    def start(self):
        if not self._loaded:
            self.load()
            self._loaded = True
        self._running.set()
        self._thread = threading.Thread(target=self._run, name=f"{self.name()}-worker", daemon=True)
        self._thread.start()
        return True

    def stop(self):
        self._running.clear()
        if self._thread is not None:
            self._thread.join(timeout=30)
        return True

    # -- worker side ----------------------------------------------------------------
    def _run(self):
        while self._running.is_set():
            try:
                msg = self._queue.get(timeout=0.05)
            except queue.Empty:
                continue
            with self._idle:
                self._busy = True
            try:
                for port, out in self.process(msg) or ():
                    self.message_port_pub(pmt.intern(port), out)
                self.stats["processed"] += 1
            except Exception as exc:  # one bad message must not kill the block
                self.stats["errors"] += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                self.last_exception = exc
                gr.log.warn(f"{self.name()}: {self.last_error}")
            finally:
                with self._idle:
                    self._busy = False
                    self._idle.notify_all()

    def pending(self):
        """Messages queued or being processed right now."""
        return self._queue.qsize() + (1 if self._busy else 0)

    def wait_idle(self, timeout_s=60.0):
        """Block until the queue is empty and no message is in flight; False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._idle:
            while self.pending():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(min(remaining, 0.05))
        return True

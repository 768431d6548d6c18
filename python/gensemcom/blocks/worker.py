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
With ``executor="process"`` the work runs in a child process of its own at nice
``CHILD_NICE``: the models then hold neither the GIL of the flowgraph's Python blocks nor
the CPU when a radio's sample stream needs it. The child rebuilds the block from
``child_arguments()``; PDUs cross the pipe as (meta dict, payload array) pairs pickled by the
two processes of this program (bytes from the air are carried, never unpickled); the
attributes named in ``CHILD_STATE`` and the block's own stats come back after each message,
and ``set_child_attributes`` changes the child's block while it runs.
"""
import collections
import multiprocessing
import os
import queue
import threading
import time

import pmt
from gnuradio import gr

from ..phy.pdus import make_pdu, split_pdu

DROP_POLICIES = ("drop_oldest", "drop_newest")
EXECUTORS = ("thread", "process")
CHILD_NICE = 19          # the models yield the CPU to the radio's stream
CHILD_START_TIMEOUT_S = 300.0
DONE = pmt.intern("done")
BASE_STATS = ("received", "processed", "dropped", "errors", "queue_high_water")


def _serve(cls, arguments, nice, conn):
    """Child process: rebuild the block, load its models, answer messages until ``None``."""
    try:
        os.nice(nice)
        block = cls(**arguments)
        block.load()
    except Exception as exc:   # the parent raises it at start
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", None))
    while True:
        request = conn.recv()
        if request is None:
            return
        kind, data = request
        if kind == "set":
            for name, value in data.items():
                setattr(block, name, value)
            conn.send("ok")
            continue
        try:
            outputs = [(port, *split_pdu(out)) for port, out in block.process(make_pdu(*data)) or ()]
            error = None
        except Exception as exc:
            outputs, error = [], f"{type(exc).__name__}: {exc}"
        state = {name: getattr(block, name, None) for name in cls.CHILD_STATE}
        stats = {k: v for k, v in block.stats.items() if k not in BASE_STATS}
        conn.send((outputs, error, state, stats))


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
    executor     "thread": ``process`` runs in a thread of this process; "process": in a child
                 process (see the module docstring; subclasses implement ``child_arguments``)
    """

    CHILD_STATE = ()   # attributes the child's ``process`` sets that the parent reads

    def __init__(self, name, queue_size=8, drop_policy="drop_oldest", executor="thread"):
        message_block.__init__(self, name)
        if int(queue_size) < 1:
            raise ValueError(f"{name}: queue_size must be >= 1, got {queue_size}")
        if drop_policy not in DROP_POLICIES:
            raise ValueError(f"{name}: drop_policy must be one of {', '.join(DROP_POLICIES)}, got {drop_policy!r}")
        if executor not in EXECUTORS:
            raise ValueError(f"{name}: executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
        self.executor = executor
        self._child = self._conn = None
        self._pipe_lock = threading.Lock()
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

    def child_arguments(self):
        """Keyword arguments that rebuild this block in a child process (executor "process")."""
        raise NotImplementedError(f"{type(self).__name__} cannot run in a child process")

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
        if self.executor == "process":
            if self._child is None:
                self._start_child()
        elif not self._loaded:
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
        if self._child is not None:
            # a message still in the child (a long inference) holds the pipe: then kill it
            if self._pipe_lock.acquire(timeout=5):
                try:
                    self._conn.send(None)
                except OSError:
                    pass
                finally:
                    self._pipe_lock.release()
                self._child.join(timeout=10)
            if self._child.is_alive():
                self._child.kill()
                self._child.join()
            self._conn.close()
            self._child = self._conn = None
        return True

    def _start_child(self):
        """Spawn the child (a fresh interpreter: no fork of a process with running threads)
        and wait until its models are loaded."""
        context = multiprocessing.get_context("spawn")
        self._conn, child_end = context.Pipe()
        self._child = context.Process(target=_serve, name=f"{self.name()}-child", daemon=True,
                                      args=(type(self), {**self.child_arguments(), "executor": "thread"},
                                            CHILD_NICE, child_end))
        self._child.start()
        child_end.close()
        if not self._conn.poll(CHILD_START_TIMEOUT_S):
            status, detail = "failed", f"nothing within {CHILD_START_TIMEOUT_S:.0f} s"
        else:
            try:
                status, detail = self._conn.recv()
            except EOFError:               # it died without a word (killed, out of memory)
                self._child.join()
                status, detail = "failed", f"the process ended with exit code {self._child.exitcode}"
        if status != "ready":
            self._child.kill()
            self._child.join()
            self._conn.close()
            self._child = self._conn = None
            raise RuntimeError(f"{self.name()}: the child process could not load: {detail}")

    def set_child_attributes(self, **values):
        """Set attributes of this block and, when it runs, of its child's copy."""
        for name, value in values.items():
            setattr(self, name, value)
        if self._child is not None:
            with self._pipe_lock:
                self._conn.send(("set", values))
                self._conn.recv()

    def _process_in_child(self, msg):
        """``process`` in the child: the outputs, after the child's state came back."""
        meta, payload = split_pdu(msg)
        with self._pipe_lock:
            self._conn.send(("process", (payload, meta)))
            outputs, error, state, stats = self._conn.recv()
        for name, value in state.items():
            setattr(self, name, value)
        for key, value in stats.items():     # the child's running totals (Counter.update would add)
            self.stats[key] = value
        if error:
            raise RuntimeError(error)
        return [(port, make_pdu(payload, meta)) for port, meta, payload in outputs]

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
                handle = self._process_in_child if self.executor == "process" else self.process
                for port, out in handle(msg) or ():
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

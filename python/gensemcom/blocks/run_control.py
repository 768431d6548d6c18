# SPDX-License-Identifier: GPL-3.0-or-later
"""Ending a running flowgraph: a safe Ctrl-C / SIGTERM, and an end for flowgraphs whose source never ends.

Signals. The ``main()`` that GRC 3.10 generates installs a SIGINT/SIGTERM handler that calls
``tb.stop(); tb.wait(); sys.exit(0)``. The handler runs while the main thread is itself inside
``tb.wait()``, so two threads then wait on the flowgraph at once, and GNU Radio joins each
scheduler thread from both (``thread_group::join_all`` takes a *shared* lock;
``boost::thread::join`` is not safe to call concurrently). One of the two waits may throw
"boost thread: trying joining itself" (Python's wait, whose helper thread died, then never
returns: the process hangs) or both reset the thread's shared state (double free, segfault).
``scripts/wait_race.py`` reproduces it without ZeroMQ or this package's blocks.
``stop_on_signals`` installs a handler that only calls ``tb.stop()``: the main thread's own
``wait()`` then returns and ``main()`` ends normally, with one waiter.

Live sources. A flowgraph reading ZeroMQ, UHD or SoapySDR never ends by itself (GNU Radio ends
a stream source only when it says so, or when its output is full and downstream is done).
``stop_when`` stops it once given message blocks have finished (an ``image_sink`` after its
image count or after its input ended; a lingering ``fragmenter`` once its return link fell
quiet) or once a stream source has been idle (it wrote samples, then none for a while: the
ZeroMQ source of a channel emulator after the transmitter ended).

The example flowgraphs call ``supervise`` from a GRC "Python Snippet" (section "Main - After
Start"), e.g. ``supervise(tb, finished=[tb.gensemcom_image_sink_0])``.
"""
import signal
import sys
import threading
import time


def _is_qt_window(tb):
    if "PyQt5" not in sys.modules:
        return False
    from PyQt5 import QtWidgets
    return isinstance(tb, QtWidgets.QWidget)


def end_flowgraph(tb):
    """Stop ``tb`` without waiting; a Qt GUI flowgraph's window is closed instead (its
    ``closeEvent`` stops and waits, in the GUI thread, and the application then quits)."""
    if _is_qt_window(tb):
        from PyQt5 import QtCore
        QtCore.QMetaObject.invokeMethod(tb, "close", QtCore.Qt.QueuedConnection)
    else:
        tb.stop()


def stop_on_signals(tb, signals=(signal.SIGINT, signal.SIGTERM)):
    """Replace the SIGINT/SIGTERM handlers by one that only ends ``tb`` (``end_flowgraph``),
    so that the thread already in ``tb.wait()`` stays the only one waiting. Returns the handler.
    Call it from the main thread."""
    def handler(signum, frame):
        end_flowgraph(tb)

    for number in signals:
        signal.signal(number, handler)
    return handler


class Watcher(threading.Thread):
    """Ends a flowgraph when blocks have finished or a stream went idle (see ``stop_when``)."""

    def __init__(self, tb, finished=(), idle_block=None, idle_s=0.0, poll_s=0.1, linger_s=0.0):
        threading.Thread.__init__(self, name="gensemcom-stop-when", daemon=True)
        self.tb, self.finished, self.idle_block = tb, list(finished), idle_block
        self.idle_s, self.poll_s, self.linger_s = float(idle_s), float(poll_s), float(linger_s)
        self.reason = None
        self._cancel = threading.Event()

    def cancel(self):
        """Stop watching (the flowgraph keeps running)."""
        self._cancel.set()

    def _done(self):
        return bool(self.finished) and all(getattr(block, "ended", block.upstream_done).is_set()
                                           for block in self.finished)

    def _items(self):
        """Samples the idle block has moved: written by a source or a block with outputs, read by a
        sink; a block with ``busy_items()`` (``phy.idle_fill``: its zeros are not activity) says itself."""
        block = self.idle_block
        if hasattr(block, "busy_items"):
            return block.busy_items()
        signature = getattr(block, "output_signature", None)
        if signature is not None and signature().max_streams() == 0:
            return block.nitems_read(0)
        return block.nitems_written(0)

    def run(self):
        items, changed = 0, time.monotonic()
        while not self._cancel.wait(self.poll_s):
            if self.idle_block is not None and (self.idle_s > 0 or self.linger_s > 0):
                now_items = self._items()
                if now_items != items:
                    items, changed = now_items, time.monotonic()
            if self._done() and (self.linger_s <= 0 or time.monotonic() - changed > self.linger_s):
                self.reason = "finished" + (f", then idle for {self.linger_s:g} s" if self.linger_s > 0 else "")
                break
            if self.idle_block is not None and self.idle_s > 0 and items \
                    and time.monotonic() - changed > self.idle_s:
                self.reason = f"input idle for {self.idle_s:g} s"
                break
        if self.reason:
            end_flowgraph(self.tb)


def stop_when(tb, finished=(), idle_block=None, idle_s=0.0, poll_s=0.1, linger_s=0.0):
    """Watch ``tb`` from a daemon thread and end it (``end_flowgraph``) when every block of
    ``finished`` has finished (its ``ended`` event is set: this package's message blocks),
    or when ``idle_block`` (a stream block, e.g. a ZeroMQ source) has moved samples and then none
    for ``idle_s`` seconds. ``linger_s`` > 0: after ``finished`` the flowgraph still runs until
    ``idle_block`` has moved nothing for ``linger_s`` seconds (a transmitter whose images are all
    sent still sends the repeats its return link asks for).
    Returns the started ``Watcher`` (``cancel()`` stops watching)."""
    watcher = Watcher(tb, finished, idle_block, idle_s, poll_s, linger_s)
    watcher.start()
    return watcher


def supervise(tb, finished=(), idle_block=None, idle_s=0.0, linger_s=0.0):
    """``stop_on_signals(tb)``, and ``stop_when(...)`` when there is something to watch
    (returns its ``Watcher``, else None). For a GRC snippet in "Main - After Start"."""
    stop_on_signals(tb)
    if finished or (idle_block is not None and idle_s > 0):
        return stop_when(tb, finished, idle_block, idle_s, linger_s=linger_s)
    return None

"""Imported first by the fork server of :mod:`commgan.sim.executor`: the server, and every
worker forked from it, ignores Ctrl-C (SIGINT). The parent handles it: it stops the pool and
reports the interrupt in one line, so no worker prints a traceback of its own."""

import signal

signal.signal(signal.SIGINT, signal.SIG_IGN)

"""Runs a command with its standard input on a new pseudo-terminal (the `--manual` tests:
copilot-api asks for approval only on a terminal). What this script reads on its own
standard input is typed on the terminal; the command's standard output and error are
inherited. The command is killed if this script dies, so no proxy outlives its test."""

import ctypes
import os
import select
import signal
import subprocess
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent():
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


master, slave = os.openpty()
child = subprocess.Popen(sys.argv[1:], stdin=slave, preexec_fn=die_with_parent)
os.close(slave)
inputs = [sys.stdin.fileno(), master]
while child.poll() is None:
    ready, _, _ = select.select(inputs, [], [], 0.1)
    for fd in ready:
        try:
            data = os.read(fd, 4096)
        except OSError:
            data = b""
        if not data:
            inputs.remove(fd)
        elif fd != master:  # what the terminal echoes back is dropped
            os.write(master, data)
sys.exit(child.returncode)

"""The kernel side of ``volbook run``: the kernel and its children die with the runner.

jupyter_client starts every kernel in a session of its own (so that interrupting the
kernel reaches its whole process group), which also means that killing ``volbook run``'s
process group, even with SIGKILL, leaves the kernel, its process-pool workers and the
multiprocessing resource tracker running. The runner therefore loads this module into the
kernel as an IPython extension (``--IPKernelApp.extensions=volbook._kernel``) with the
runner's process id in ``VOLBOOK_RUNNER_PID``: a daemon thread watches the kernel's parent
and, as soon as the runner is gone, kills the kernel's process group, children included.
"""

from __future__ import annotations

import os
import signal
import threading
import time

__all__ = ["RUNNER_PID_ENV", "load_ipython_extension", "watch_runner"]

#: Environment variable holding the process id of the ``volbook run`` that started the kernel.
RUNNER_PID_ENV = "VOLBOOK_RUNNER_PID"
#: Seconds between two looks at the parent process.
POLL_SECONDS = 0.1


def load_ipython_extension(ipython: object) -> None:
    """IPython's hook: start :func:`watch_runner` in a daemon thread."""
    runner = os.environ.get(RUNNER_PID_ENV, "")
    if runner.isdigit():
        threading.Thread(target=watch_runner, args=(int(runner),), name="volbook-guard", daemon=True).start()


def watch_runner(runner: int) -> None:
    """Return only by killing this process's group once its parent is no longer ``runner``."""
    while os.getppid() == runner:
        time.sleep(POLL_SECONDS)
    if os.getpgrp() == os.getpid():  # the kernel leads its own group: take the children along
        os.killpg(os.getpgrp(), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)

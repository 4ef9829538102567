"""Run small dense linear algebra on one BLAS thread.

The matrices of psychometrics have tens to a few hundred rows. OpenBLAS threads only add
synchronisation there, and on a busy two-core machine they made a WLSMV fit ten times, an
ML invariance run five times and a pairwise correlation matrix fifty times slower than on
one thread. The public functions of :mod:`rctscale.psychometrics` therefore run under
:func:`single_threaded_blas` (the limit is lifted again when they return).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from threadpoolctl import ThreadpoolController

_controller: ThreadpoolController | None = None
P = ParamSpec("P")
R = TypeVar("R")


def _blas_controller() -> ThreadpoolController:
    # Built once, on first use (after numpy and scipy have loaded their BLAS): inspecting the
    # loaded libraries costs about a millisecond, limiting through a controller a few µs.
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    with _blas_controller().limit(limits=1, user_api="blas"):
        yield


def on_one_blas_thread(function: Callable[P, R]) -> Callable[P, R]:
    """Decorate a statistic so that it runs under :func:`single_threaded_blas`."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with single_threaded_blas():
            return function(*args, **kwargs)

    return wrapper

"""Run small dense linear algebra on one BLAS thread.

The matrices of a factor model have tens to a few hundred rows. OpenBLAS threads only add
synchronisation there, and on a busy two-core machine they made a WLSMV fit ten times and
an ML invariance run five times slower than on one thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from threadpoolctl import threadpool_limits


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    with threadpool_limits(limits=1, user_api="blas"):
        yield

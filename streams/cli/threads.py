"""One BLAS thread: imported by the `pulse` entry point before anything loads NumPy.

Pulse's numeric work (BG/NBD fits) runs on small arrays, so extra BLAS threads only spin
beside the event loop and cost CPU on every core (measured: process CPU time above wall
time in `pulse bench core`). The environment can still ask for more.
"""

from __future__ import annotations

import os

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

"""``extflash doctor``: why a board will not connect through a debug probe, and what to do.

* :mod:`extflash.doctor.walk` — the step-by-step connection walk (:func:`walk`, :func:`explain`);
* :mod:`extflash.doctor.findings` — what can be found, with the recovery for each.
"""

from extflash.doctor.findings import Finding
from extflash.doctor.walk import DoctorReport, Step, explain, walk

__all__ = ["DoctorReport", "Finding", "Step", "explain", "walk"]

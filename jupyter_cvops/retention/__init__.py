"""Growth and retention: compaction of append-heavy tables, removal of unreferenced artifacts, ``forget``."""

from .._store.compaction import CompactionReport, TableCompaction
from .forget import ForgetReport
from .gc import GcReport

__all__ = ["CompactionReport", "ForgetReport", "GcReport", "TableCompaction"]

"""Deep Research runs: the service the front doors call (``service.py``), lease supervision (``leases.py``),
watching one run (``watch.py``), report files (``reports.py``) and job events across processes (``events.py``).
"""

from .events import JobEvent
from .leases import default_replica_id
from .service import ResearchService, can_view, elapsed_seconds

__all__ = ["JobEvent", "ResearchService", "can_view", "default_replica_id", "elapsed_seconds"]

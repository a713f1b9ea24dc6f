"""Knobs of the emulator. Every field has a default that suits interactive use; tests shorten the times."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class EmulatorConfig:
    """How the emulated service behaves. Mutable: a test may change a field while the emulator runs."""

    research_seconds: float = 3.0
    """How long a Deep Research (agent) job runs before its report is ready."""
    research_steps: int = 5
    """How many thought + search rounds a research job emits before its report."""
    report_chars: int = 12000
    """Approximate length of a research report (it is at least this long)."""
    plan_seconds: float = 0.5
    """How long a Deep Research job with ``collaborative_planning`` takes to propose its plan."""
    research_visualization: bool = False
    """Add a chart image to reports when ``agent_config.visualization`` is not given ("auto" always adds one)."""
    text_delay_seconds: float = 0.0
    """Time a text model "thinks" before it answers (foreground and background)."""
    image_delay_seconds: float = 0.0
    """Time an image model takes before it answers."""
    stream_chunk_chars: int = 48
    """Size of the ``text`` deltas of a streamed text answer."""
    report_chunk_chars: int = 2000
    """Size of the ``text`` deltas of a research report."""
    retry_after_seconds: float = 1.0
    """``retry-after`` / ``retry-after-ms`` sent with every 429 unless a fault says otherwise."""
    sparse_event_ids: bool = False
    """When true, ``step.delta`` events carry no ``event_id`` (the real service puts ids on some events only)."""
    stream_cut_seconds: float = 0.0
    """Cut every stream silently after this many seconds, like the real service does at 600 s (0: never)."""
    hang_seconds: float = 3600.0
    """Upper bound of every "hang" fault; a hang also ends when the client disconnects or the emulator stops."""
    continuation_chars: int = 0
    """Foreground text answers longer than this arrive in several continuation hops of at most this many
    characters each (0: one hop, as long as it takes). ``[emulator:hops=N]`` splits one answer into N hops."""
    webhook_attempts: int = 5
    """Attempts per webhook delivery before giving up (the real service retries for up to 24 hours)."""
    webhook_retry_seconds: float = 1.0
    """Wait before the second attempt of a delivery; it doubles after each failed one."""
    extra_models: list[str] = field(default_factory=list)
    """Model ids accepted besides the installed SDK's ``Model`` list (others answer 404)."""
    extra_agents: list[str] = field(default_factory=list)
    """Agent ids accepted besides the installed SDK's ``AgentOption`` list."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

"""A local emulator of the Gemini Interactions API, faithful enough for the real google-genai SDK.

Point the SDK at it with ``GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:PORT`` (or
``HttpOptions(base_url=...)``); any API key works. It serves ``/{version}/interactions`` under any
version prefix: create (``POST``), get (``GET``, ``?stream=true&last_event_id=…``, ``?include_input=true``),
cancel (``POST …/{id}/cancel`` or ``…/{id}:cancel``) and delete (``DELETE``).

Public surface::

    from server.emulator import EmulatorConfig, Emulator, run_emulator_in_thread, serve_emulator

    handle = run_emulator_in_thread(EmulatorConfig(research_seconds=0.5))   # uvicorn in a daemon thread
    handle.url; handle.emulator.faults; handle.emulator.stats; handle.stop()  # also a context manager
    async with serve_emulator(config) as handle: ...                      # in the current event loop

API keys: none → 401 UNAUTHENTICATED; a key starting with ``bad`` → 400 INVALID_ARGUMENT with reason
``API_KEY_INVALID``; ``blocked`` → 403 ``API_KEY_SERVICE_BLOCKED``; ``unrestricted`` → 401
``ACCESS_TOKEN_TYPE_UNSUPPORTED`` (an unrestricted standard key); ``free`` → 429 RESOURCE_EXHAUSTED on agent
creates. Errors are Google's envelope: numeric ``code``, ``status``, ``details`` (``google.rpc.ErrorInfo`` …).

Held to the installed SDK (``catalog.py``): model and agent ids are the SDK's ``Model`` / ``AgentOption`` lists
plus ``EmulatorConfig.extra_models`` / ``extra_agents`` (others, and shut-down ids, get Google's 404);
``gemini-3.5-flash`` is served by ``gemini-3.6-flash``, which the answer reports; request fields, thinking levels
and content mime types outside the SDK's types are refused with 400. Every create body is kept for tests
(``emu.received_bodies()``).

What the models answer (see ``content.py`` for the exact lines of a text answer):

* text models: a thought step, tool steps for ``google_search``/``url_context``/
  ``code_execution``, then a ``model_output`` text that repeats the prompt, the number of earlier turns and
  the first user message, the system instruction, the tools, and ``Received <mime> (<n> bytes)`` per
  non-text part. A JSON ``response_format`` makes the text a JSON instance of the schema.
  A long answer arrives in continuation hops (``hops.py``): ``requires_continuation`` with a
  ``continuation_token``, continued by a create with the token and ``previous_interaction_id`` (no input).
* image models (an explicit list, ``catalog.IMAGE_MODELS``): a short text and a real PNG sized by ``response_format`` ``aspect_ratio``/``image_size``
  (1K grid: 1:1 → 1024x1024, 16:9 → 1344x768, …; 512 halves, 2K doubles, 4K quadruples). Continuing an
  image thread keeps the colour, changes the mark and says "Refined the earlier image". A prompt with the
  word ``noimage`` gets text only.
* agents (Deep Research; ``background=true`` required): ``in_progress`` at once, then over
  ``research_seconds`` thought summaries and search steps, then a long markdown report with
  ``url_citation`` annotations (and a chart image between two text items with
  ``agent_config.visualization="auto"``), then ``completed``. With ``agent_config.collaborative_planning``
  the agent proposes a plan instead (``plans.py``): the interaction ends ``completed`` with the plan as its
  last step's text; a turn continuing it (``previous_interaction_id``) with planning on refines the plan, with
  planning off runs the research on the first brief, quoting the user's replies in a "Scope agreed" section.

Streams: ``event: <type>\\ndata: <json>\\n\\n`` with ``event_id`` ``evt_000001``…; ``interaction.created``,
``interaction.status_update``, ``step.start``/``step.delta``/``step.stop``, ``interaction.completed`` (also
for a cancelled or failed job, carrying that status; a failed one is preceded by an ``error`` event), then
``event: done`` / ``data: [DONE]``. Every job keeps its log: a GET stream with ``last_event_id`` replays the
events after it and tails the job. ``EmulatorConfig.stream_cut_seconds`` ends every stream silently after
that long, like the real service's 10-minute cut.

Prompt directives (anywhere in the prompt text, for subprocess tests):

==========================================  ==========================================================================
``[emulator:research_seconds=5]``           this research job takes 5 s
``[emulator:research_steps=2]``             and emits 2 thought/search rounds
``[emulator:report_chars=3000]``            report length
``[emulator:chart]``                        add a chart image to the report
``[emulator:html]``                         put raw HTML in the report: an ``<img onerror>``, a ``<script>``, a ``javascript:`` link
``[emulator:text_delay=2]``                 a text answer takes 2 s (``image_delay`` for images)
``[emulator:write_seconds=5]``              its text deltas are spread over 5 s (per hop), as a model writes
``[emulator:stuck]``                        the job stays ``in_progress`` until cancelled
``[emulator:fail]``                         a research job ends ``failed`` after its first round
``[emulator:hops=3]``                       a text answer arrives in 3 continuation hops
``[emulator:start_status=queued]``          a research job is ``queued`` for its first pause
``[emulator:status=idle]``                  after its first round, another status (any string) for a pause
``[emulator:requires_action]``              after its first round, the job stops at ``requires_action``
``[emulator:chart_uri]``                    the report's chart comes by ``uri`` (``=http://host:port`` elsewhere)
``[emulator:plan_seconds=2]``               a planning turn takes 2 s
``[emulator:plan_status=requires_action]``  a planning turn ends ``requires_action`` instead of ``completed``
==========================================  ==========================================================================

Faults (see ``faults.py``): in-process ``emu.faults.rate_limit(2, kind="create")``,
``server_error(503)``, ``delay(s)``, ``hang()``, ``malformed_json()``, ``reset_connection()``,
``cut_stream(after_events=3)``, ``hang_stream(after_events=2)``, ``stick_jobs(n)``, ``transient_404(s)``,
``error(403, reason="API_KEY_IP_ADDRESS_BLOCKED", skip=1)``, ``clear()``. Over HTTP: ``POST
/_emulator/faults`` with ``{"action": "status", "status": 429, "count": 2, "kind": "create"}`` or ``{"rules": [...], "stuck_jobs": 1, "transient_404_seconds": 2}``; ``GET`` shows
them, ``DELETE`` clears them.

Stats (thread-safe, ``emu.stats``): ``requests_for(id)`` → requests per kind (create/get/stream/cancel/
delete) naming that interaction; ``by_kind``, ``by_status``, ``requests_total``; ``cancels`` (list of
``CancelRecord``: id, status before, monotonic and wall time); ``completion(id)`` / ``completions`` →
``CompletionRecord`` (final status, background, kind, ``started_monotonic``, ``monotonic``, ``wall_time``,
``duration``): the moment the job really ended, on CLOCK_MONOTONIC which every process on the machine shares.
``snapshot()`` is the same as JSON. ``upstream_requests(id)`` → an ``UpstreamRequest`` per request naming
that interaction: kind, ``replica`` (its ``x-gemini-interactions-replica`` header), ``streamed``,
``started_monotonic`` and ``ended_monotonic`` (for a stream, when it ended; ``None`` while open);
``replicas_for(id)``; ``replica_overlaps(id=None)`` → pairs of streams of one interaction from two replicas
that were open at the same time (empty when each job had one watcher at a time). In-process reads of state:
``emu.interaction(id)`` (a GET-shaped copy), ``emu.interaction_ids()``, ``emu.running_jobs()``;
``emu.reset()`` clears everything (any thread).

Other control endpoints (no API key, except for files): ``GET /_emulator/stats`` (requests per kind and per interaction,
cancels, completion times, ``upstream_requests``), ``POST /_emulator/reset`` (forget interactions, stats and
faults), ``GET|POST /_emulator/config``, ``GET /_emulator/health``, ``GET /_emulator/files/{id}/{n}`` (images
delivered with ``delivery: "uri"``; like Gemini's downloads, it needs the API key).
"""

from __future__ import annotations

from .config import EmulatorConfig
from .emulator import Emulator
from .faults import FaultRule, Faults
from .serving import EmulatorHandle, run_emulator_in_thread, serve_emulator
from .stats import REPLICA_HEADER, CancelRecord, CompletionRecord, Stats, UpstreamRequest

__all__ = [
    "REPLICA_HEADER",
    "CancelRecord",
    "CompletionRecord",
    "Emulator",
    "EmulatorConfig",
    "EmulatorHandle",
    "FaultRule",
    "Faults",
    "Stats",
    "UpstreamRequest",
    "run_emulator_in_thread",
    "serve_emulator",
]

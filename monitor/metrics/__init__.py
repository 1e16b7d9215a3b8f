"""What ``/metrics`` shows: :mod:`.state` keeps the latest result and counters per target,
:mod:`.exposition` pre-renders each target's series right after its probe, and collectors
read process, SLO and consistency state at scrape time (one registry per monitor, never a
global)."""

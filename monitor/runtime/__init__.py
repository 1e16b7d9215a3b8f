"""The running monitor: :mod:`.monitor` wires config, scheduler, probes, state, history
and metrics together (the composition root: nothing below imports it); :mod:`.scheduler`
spreads probes over their intervals."""

"""``omniwatch demo``: the whole product on loopback, in one process.

:mod:`.backends` simulates the four channels, :mod:`.stores` seeds their customer
stores, :mod:`.slack_sink` is a local Slack, :mod:`.config` points an ordinary
configuration at them, :mod:`.terminal` tells the story as it happens and :mod:`.run`
ties them to a real monitor.
"""

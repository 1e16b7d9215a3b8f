"""``omniwatch demo``: simulated app, website, mini-program and branch backends on
loopback (:mod:`.backends`) and a monitor on the embedded defaults watching them."""

from monitor.demo.run import run_demo

__all__ = ["run_demo"]

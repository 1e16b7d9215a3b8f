"""Availability objectives: the pure math (:mod:`.budget`), burn-rate windows as data
(:mod:`.windows`), exclusions (service hours, maintenance), the SLOs a config defines
(:mod:`.bindings`), the monthly report and its renderers, and Prometheus rules."""

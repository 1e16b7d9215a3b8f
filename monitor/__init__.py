"""omniwatch: service-reliability and cross-channel consistency monitoring."""

__version__ = "0.1.0"

"""Local SailPoint ISC password-management simulator (development and test tool, not shipped)."""

from .server import Simulator

__all__ = ['Simulator']

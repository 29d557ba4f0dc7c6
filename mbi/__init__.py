"""MBI Core: the Python orchestration layer of the Malaysia Blockchain Infrastructure node."""
__version__ = "0.1.0"

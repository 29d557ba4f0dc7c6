"""Shared pytest configuration."""
import os

from hypothesis import HealthCheck, settings

# CI machines have 2 cores and are noisy: no deadlines, more examples under CI=true.
settings.register_profile("ci", max_examples=200, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=50, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")

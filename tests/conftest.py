"""Shared pytest configuration."""
import os

from hypothesis import HealthCheck, settings

# CI machines have 2 cores and are noisy: no deadlines, more examples under CI=true.
settings.register_profile("ci", max_examples=200, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=50, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
# ci/sanitize.sh: instrumented kernels run several times slower; fewer examples keep it
# within its time budget.
settings.register_profile("sanitize", max_examples=15, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("MBI_HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))

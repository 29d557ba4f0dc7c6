"""`mbi bench e2e`: a whole-network benchmark of real `mbi start` validators.

Modules: `network` (homes, processes, faults), `load` (accounts, funding, pre-signed
transactions in files), `generator` (the submitting process), `monitor` (the harness's
pollers: ledger seq every ~50 ms, /metrics and /proc every second), `analysis` (ledger
scan, accounting, latency) and `report` (table, JSON, plots). `e2e.run` ties them up.
"""

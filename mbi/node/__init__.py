"""The MBI node process: configuration (``mbi.node.config``) and, later, its wiring."""

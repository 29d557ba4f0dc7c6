"""`python -m mbi`: the same as the `mbi` command."""
import sys

from mbi.cli import main

sys.exit(main())

import sys

from multus.entry import run

sys.exit(run())

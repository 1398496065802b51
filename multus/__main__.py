import sys

from multus.entry import main

sys.exit(main())

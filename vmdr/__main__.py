import sys

from vmdr.cli import main

sys.exit(main())

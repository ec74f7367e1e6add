import sys

from nasiam.cli import main

sys.exit(main())

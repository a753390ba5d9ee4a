import sys

from glmprep.cli import main

sys.exit(main())

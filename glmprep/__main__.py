import sys

from glmprep.pipeline.cli import main

sys.exit(main())

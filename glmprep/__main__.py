import sys

try:
    from glmprep.pipeline.cli import main
except KeyboardInterrupt:  # Ctrl-C before the command line is even read
    print("glmprep: interrupted", file=sys.stderr)
    sys.exit(130)

sys.exit(main())

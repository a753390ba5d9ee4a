import sys


def main(argv=None):
    print("glmprep")
    return 0

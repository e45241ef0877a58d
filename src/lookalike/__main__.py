"""The ``lookalike`` command's entry point (also ``python -m lookalike``).

Importing the command line loads numpy, dlib and onnxruntime (a few tenths of a second): a
Ctrl-C in that time ends the command as a Ctrl-C later does, with click's one line and no
traceback."""

import sys


def main() -> None:
    try:
        from .cli import main as command
    except KeyboardInterrupt:
        sys.stderr.write("Aborted!\n")
        sys.exit(1)
    command()


if __name__ == "__main__":
    main()

"""The ``lookalike`` command's entry point (also ``python -m lookalike``).

Importing the command line loads numpy, dlib and onnxruntime (a few tenths of a second): a
Ctrl-C in that time ends the command as a Ctrl-C later does, with click's one line and no
traceback.  A mistyped command or option is one line too, ``Error: ... (lookalike match
--help)``, with click's exit code for usage errors, 2; every other bad input exits 1.
"""

import sys


def main() -> None:
    try:
        from .cli import main as command
    except KeyboardInterrupt:
        sys.stderr.write("Aborted!\n")
        sys.exit(1)
    sys.exit(run(command))


def run(command, args: list[str] | None = None) -> int:
    """Run the click command ``command``; its exit code."""
    import click

    try:
        code = command.main(args, standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as e:  # `lookalike` alone: its help
        e.show()
        return e.exit_code
    except click.UsageError as e:
        where = f" ({e.ctx.command_path} --help)" if e.ctx is not None else ""
        click.echo(f"Error: {e.format_message()}{where}", err=True)
        return e.exit_code
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except click.Abort:
        click.echo("Aborted!", err=True)
        return 1
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    main()

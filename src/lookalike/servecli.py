"""The `serve` command: the page of :mod:`lookalike.serve` on this machine.

:mod:`lookalike.cli` adds it to its command group.  Flask and waitress are imported when
the command runs, so that other commands do not pay for them.
"""

from __future__ import annotations

import webbrowser

import click

from .clikit import index_option, user_errors


@click.command("serve")
@index_option
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Where to listen.  Anything but this machine's own address lets other machines on "
    "the network see your photos and faces.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="Port to listen on (0: any free one).",
)
@click.option("--open", "open_page", is_flag=True, help="Open the page in your browser.")
@click.option(
    "--lfw",
    metavar="DIR",
    help="The LFW folder (holding images/): the built-in gallery's faces are shown from its "
    "photos.  [env LOOKALIKE_LFW; remembered by `match --lfw`]",
)
@user_errors
def serve_cmd(index_path, host, port, open_page, lfw):
    """A page on this machine to match, compare and name faces, and a JSON API beside it.

    The page matches a photo you drop on it (against your index, or the built-in gallery
    while you have none), compares two photos, lists the people indexed, and names the
    groups of unnamed faces.  Scripts can POST a photo to /api/match (field "photo") or two
    to /api/distance (fields "a" and "b") and get what `match --json` and `distance --json`
    print.  Ctrl-C stops it.

    \b
      lookalike serve --open
      lookalike serve --index party.db --port 8080
      curl -F photo=@me.jpg http://127.0.0.1:8765/api/match
    """
    from . import api, config, serve

    if host not in ("127.0.0.1", "::1", "localhost"):
        click.echo(
            f"warning: listening on {host}: other machines that reach it can see the photos and "
            "faces of the index (and change its names with the page's token)",
            err=True,
        )
    lfw_folder = config.find_lfw(lfw)
    with api.open_index(index_path, lfw=lfw_folder) as idx:  # a broken index: said now
        what = serve.describe(idx)
    app = serve.make_app(index_path, lfw_folder, host, port)
    try:
        server = serve.serve(app, host, port)
    except OSError as e:
        raise click.ClickException(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    shown = "127.0.0.1" if host in ("localhost", "0.0.0.0", "::") else host
    url = f"http://{f'[{shown}]' if ':' in shown else shown}:{server.effective_port}/"
    click.echo(f"lookalike serves {what} at {url} (Ctrl-C stops it)", err=True)
    if open_page:
        webbrowser.open(url)
    try:
        server.run()
    except KeyboardInterrupt:
        click.echo("stopped", err=True)
    finally:
        server.close()

"""The `cluster` and `name` commands: who is who among the faces nobody named.

:mod:`lookalike.cli` adds them to its command group; the work is done by
:mod:`lookalike.groups`.
"""

from __future__ import annotations

import json
import os
import sys

import click

from . import grouppage, groups
from .clikit import index_option, json_option, table, user_errors
from .index import Index

PHOTOS_SHOWN = 3


@click.command("cluster")
@index_option
@click.option(
    "--min-size",
    type=click.IntRange(1),
    default=2,
    show_default=True,
    help="List the groups of at least this many faces.",
)
@click.option(
    "--save",
    "save_dir",
    type=click.Path(file_okay=False),
    help="Write a picture of each group listed, and an HTML page of them all, into this folder.",
)
@click.option(
    "--threshold",
    type=click.FloatRange(0, 2),
    help="Put two faces together within this distance (calibrated against LFW where it "
    "can be): higher makes fewer, bigger groups, and more of them hold two people.  "
    "[default: the line chosen on LFW, docs/clustering.md]",
)
@json_option
@user_errors
def cluster_cmd(index_path, min_size, save_dir, threshold, as_json):
    """Group the unnamed faces of the index into people.

    Unnamed faces are those of photos indexed with --unnamed, and the bystanders in named
    photos.  Each group has an id that later runs keep while the group stays the same
    (more photos indexed, a few faces more or less); name a group with `lookalike name`.

    \b
      lookalike index ./party --unnamed
      lookalike cluster
      lookalike cluster --min-size 3 --save groups/
      lookalike name 4 "Aunt May"
    """
    with Index.open(index_path) as idx:
        found = groups.cluster_index(idx, threshold)
        shown = [g for g in found.groups if g.size >= min_size]
        described = groups.describe(idx, shown)
        written = grouppage.save(idx, shown, save_dir) if save_dir else []
    hidden = len(found.groups) - len(shown)
    if as_json:
        report = {
            "index": str(idx.path),
            "method": found.method.describe(),
            "faces": found.faces,
            "groups_found": len(found.groups),
            "min_size": min_size,
            "not_shown": hidden,
            "groups": described,
        }
        click.echo(json.dumps(report, indent=2))
    elif described:
        click.echo(_groups_table(described))
    _say_what_was_found(idx.path, found, len(shown), hidden, min_size)
    for path in written:
        click.echo(f"picture: {path}", err=True)


def _groups_table(described: list[dict]) -> str:
    rows = [("group", "faces", "photos")]
    for g in described:
        photos = list(dict.fromkeys(f["photo"] for f in g["faces"]))
        listed = ", ".join(os.path.basename(p) for p in photos[:PHOTOS_SHOWN])
        if len(photos) > PHOTOS_SHOWN:
            listed += f" (+{len(photos) - PHOTOS_SHOWN} more)"
        rows.append((str(g["group"]) + (" new" if g["new"] else ""), str(g["size"]), listed))
    return table(rows, right={1})


def _say_what_was_found(
    path, found: groups.Clustering, shown: int, hidden: int, min_size: int
) -> None:
    if not found.faces:
        click.echo(
            f"no unnamed faces in {path} (`lookalike index DIR --unnamed` indexes photos of "
            "people nobody named yet)",
            err=True,
        )
        return
    new = sum(g.new for g in found.groups)
    click.echo(
        f"{found.faces} unnamed faces in {len(found.groups)} groups ({new} new; "
        f"{found.method.describe()})",
        err=True,
    )
    if hidden:
        click.echo(
            f"{hidden} groups of fewer than {min_size} faces not shown (--min-size 1 lists them)",
            err=True,
        )
    if shown:
        click.echo('name one: lookalike name GROUP "Person"', err=True)


@click.command("name")
@click.argument("words", nargs=-1, metavar='[GROUP] "PERSON"')
@click.option(
    "--face",
    "face_ids",
    type=int,
    multiple=True,
    metavar="ID",
    help="Name this face (a face_id of `cluster --json` or `match --json`), not a group.  "
    "Repeat for more.",
)
@click.option(
    "--forget",
    is_flag=True,
    help="Take back the names given to the --face faces: each is again what its photo says.",
)
@click.option(
    "--merge",
    is_flag=True,
    help="Where the name is someone's in the index already: add these faces to theirs (one "
    "person).  Asked in a terminal; refused without it otherwise.",
)
@click.option("--undo", is_flag=True, help="Take the last naming back.")
@index_option
@json_option
@user_errors
def name_cmd(words, face_ids, forget, merge, undo, index_path, as_json):
    """Credit a group's faces (or single faces) to a person: a new one, or one the index
    has (then, asked first, their faces and these are one person).  `match` ranks them under
    that name, and names given here survive re-indexing.

    \b
      lookalike name 4 "Aunt May"
      lookalike name 5 "Aunt May" --merge
      lookalike name --face 812 "Aunt May"
      lookalike name --face 812 --forget
      lookalike name --undo
    """
    if forget:
        _forget(face_ids, words, index_path, as_json)
        return
    if undo:
        _undo(words, face_ids, index_path, as_json)
        return
    if face_ids and len(words) != 1:
        raise click.UsageError('with --face, give only the name: name --face ID "PERSON"')
    if not face_ids and (len(words) != 2 or not words[0].isdigit()):
        raise click.UsageError('give a group and a name: name GROUP "PERSON"')
    with Index.open(index_path) as idx:
        if not face_ids:
            groups.group_faces(idx, int(words[0]))  # no such group: said before asking
        merge = merge or _asked_to_merge(idx, words[-1])
        if face_ids:
            naming = groups.name_faces(idx, list(face_ids), words[0], merge)
        else:
            naming = groups.name_group(idx, int(words[0]), words[1], merge)
    if as_json:
        report = {"index": str(idx.path), **naming.as_dict()}
        click.echo(json.dumps(report, indent=2))
        return
    n = len(naming.face_ids)
    if naming.group is not None:
        what = f"group {naming.group} ({n} face{'' if n == 1 else 's'}) is"
    else:
        ids = ", ".join(map(str, naming.face_ids))
        what = f"face {ids} is" if n == 1 else f"faces {ids} are"
    who = "someone already in the index" if naming.merged else "a new person"
    click.echo(f"{what} now {naming.name}, {who}")


def _asked_to_merge(idx: Index, name: str) -> bool:
    """Where ``name`` is someone's already and the command runs in a terminal: whether the
    user wants the two to be one person (elsewhere the naming is refused: --merge)."""
    known = groups.someone(idx, name)
    if known is None or not sys.stdin.isatty():
        return False
    return click.confirm(
        f"{known[0]} is already in the index ({known[1]} faces): add these faces to theirs, "
        "as one person?",
        default=False,
        err=True,
    )


def _undo(words: tuple[str, ...], face_ids: tuple[int, ...], index_path, as_json: bool) -> None:
    if words or face_ids:
        raise click.UsageError("--undo takes nothing else: name --undo")
    with Index.open(index_path) as idx:
        back = groups.undo(idx)
    if as_json:
        click.echo(json.dumps({"index": str(idx.path), "undone": back}, indent=2))
    elif back:
        click.echo(f"took the last naming back: {len(back)} faces are as they were")
    else:
        click.echo("nothing to undo")


def _forget(face_ids: tuple[int, ...], words: tuple[str, ...], index_path, as_json: bool) -> None:
    if not face_ids or words:
        raise click.UsageError("--forget takes faces and no name: name --face ID --forget")
    with Index.open(index_path) as idx:
        forgotten = groups.forget_names(idx, list(face_ids))
    if as_json:
        click.echo(json.dumps({"index": str(idx.path), "forgotten": forgotten}, indent=2))
        return
    for face in face_ids:
        had = "no longer has the name given to it" if face in forgotten else "had no name given"
        click.echo(f"face {face} {had}")

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
@click.option(
    "--again",
    is_flag=True,
    help="Group every unnamed face from scratch: from 1,000,000 faces on, a run otherwise "
    "places only the faces indexed since the last one, and keeps the groups as they are.",
)
@click.option(
    "--stored",
    is_flag=True,
    help="List the groups as the last run stored them, with the merges and move-outs made "
    "since, without clustering again.",
)
@click.option(
    "--merge",
    type=int,
    nargs=2,
    metavar="KEEP OTHER",
    help="Put the faces of group OTHER in group KEEP (one person the clustering split), "
    "without clustering again.",
)
@click.option(
    "--move-out",
    type=int,
    metavar="FACE_ID",
    help="Take this face out of its group (someone else) into a group of its own, without "
    "clustering again.",
)
@json_option
@user_errors
def cluster_cmd(index_path, min_size, save_dir, threshold, again, stored, merge, move_out, as_json):
    """Group the unnamed faces of the index into people.

    Unnamed faces are those of photos indexed with --unnamed, and the bystanders in named
    photos.  Each group has an id that later runs keep while the group stays the same
    (more photos indexed, a few faces more or less); name a group with `lookalike name`.
    A run groups the faces from scratch: it may undo merges and move-outs made by hand.

    \b
      lookalike index ./party --unnamed
      lookalike cluster
      lookalike cluster --min-size 3 --save groups/
      lookalike cluster --merge 4 7
      lookalike cluster --move-out 812
      lookalike cluster --stored
      lookalike name 4 "Aunt May"
    """
    if merge or move_out is not None:
        if (merge and move_out is not None) or stored or threshold is not None or save_dir:
            raise click.UsageError("--merge and --move-out change the stored groups: one, alone")
        _change_groups(index_path, merge, move_out, as_json)
        return
    if stored and threshold is not None:
        raise click.UsageError("--stored lists the groups as they are: no --threshold")
    with Index.open(index_path) as idx:
        found = None if stored else groups.cluster_index(idx, threshold, again)
        every = groups.listed(idx) if found is None else found.groups
        shown = [g for g in every if g.size >= min_size]
        described = groups.describe(idx, shown)
        written = grouppage.save(idx, shown, save_dir) if save_dir else []
    hidden = len(every) - len(shown)
    if as_json:
        how = {} if found is None else {"method": found.method.describe(), "faces": found.faces}
        report = {
            "index": str(idx.path),
            **how,
            "groups_found": len(every),
            "min_size": min_size,
            "not_shown": hidden,
            "groups": described,
        }
        click.echo(json.dumps(report, indent=2))
    elif described:
        click.echo(_groups_table(described))
    if found is None:
        _say_what_is_stored(idx.path, every, hidden, min_size)
    else:
        _say_what_was_found(idx.path, found, len(shown), hidden, min_size)
    for path in written:
        click.echo(f"picture: {path}", err=True)


def _change_groups(
    index_path, merge: tuple[int, int] | None, move_out: int | None, as_json: bool
) -> None:
    """``cluster --merge`` or ``--move-out``: one change to the stored groups, said."""
    with Index.open(index_path) as idx:
        if merge:
            keep, other = merge
            moved = groups.merge_groups(idx, keep, other)
            size = len(groups.group_faces(idx, keep))
            report = {"group": keep, "merged": other, "moved": moved, "size": size}
            said = f"group {other} ({_faces(len(moved))}) joined group {keep}, now {_faces(size)}"
        else:
            left = groups.group_of(idx, move_out)
            new = groups.move_out(idx, move_out)
            report = {"face_id": move_out, "left": left, "group": new}
            said = f"face {move_out} left group {left}: it is group {new} now"
    click.echo(json.dumps({"index": str(idx.path), **report}, indent=2) if as_json else said)


def _faces(n: int) -> str:
    return f"{n} face{'' if n == 1 else 's'}"


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
    _say_hidden(hidden, min_size)
    if shown:
        click.echo('name one: lookalike name GROUP "Person"', err=True)


def _say_what_is_stored(path, every: list[groups.Group], hidden: int, min_size: int) -> None:
    if not every:
        click.echo(f"no groups in {path} (`lookalike cluster` makes them)", err=True)
        return
    faces = sum(g.size for g in every)
    click.echo(
        f"{faces} faces in {len(every)} groups, as the last `lookalike cluster` stored them "
        "and changed since",
        err=True,
    )
    _say_hidden(hidden, min_size)


def _say_hidden(hidden: int, min_size: int) -> None:
    if hidden:
        click.echo(
            f"{hidden} groups of fewer than {min_size} faces not shown (--min-size 1 lists them)",
            err=True,
        )


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
    "--nobody",
    is_flag=True,
    help="Make the --face faces nobody's, whoever their photo's folder or a naming credits "
    "them to: unnamed, `cluster` groups them.",
)
@click.option(
    "--person",
    metavar="NAME",
    help='Rename this person: every face of theirs is named "PERSON".',
)
@click.option(
    "--merge",
    is_flag=True,
    help="Where the name is someone's in the index already: add these faces to theirs (one "
    "person).  Asked in a terminal; refused without it otherwise.",
)
@click.option(
    "--undo",
    is_flag=True,
    help="Take the last change back (a naming, rename, --nobody, `cluster --merge` or "
    "`cluster --move-out`).",
)
@index_option
@json_option
@user_errors
def name_cmd(words, face_ids, forget, nobody, person, merge, undo, index_path, as_json):
    """Credit a group's faces (or single faces) to a person: a new one, or one the index
    has (then, asked first, their faces and these are one person).  `match` ranks them under
    that name, and names given here survive re-indexing.

    \b
      lookalike name 4 "Aunt May"
      lookalike name 5 "Aunt May" --merge
      lookalike name --face 812 "Aunt May"
      lookalike name --person "Aunt May" "May Parker"
      lookalike name --face 812 --forget
      lookalike name --face 812 --nobody
      lookalike name --undo
    """
    _at_most_one(forget=forget, nobody=nobody, undo=undo, person=person is not None)
    if forget:
        _forget(face_ids, words, index_path, as_json)
        return
    if nobody:
        _nobody(face_ids, words, index_path, as_json)
        return
    if undo:
        _undo(words, face_ids, index_path, as_json)
        return
    if person is not None:
        _rename(person, words, face_ids, merge, index_path, as_json)
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
        what = f"group {naming.group} ({_faces(n)}) is"
    else:
        what = f"{_face_list(naming.face_ids)} {'is' if n == 1 else 'are'}"
    click.echo(f"{what} now {naming.name}, {_who(naming)}")


def _face_list(face_ids: list[int]) -> str:
    return f"face{'' if len(face_ids) == 1 else 's'} {', '.join(map(str, face_ids))}"


def _who(naming: groups.Naming) -> str:
    return "someone already in the index" if naming.merged else "a new person"


def _at_most_one(**modes: bool) -> None:
    """--forget, --nobody, --undo and --person are each a command of their own."""
    given = [f"--{mode}" for mode, on in modes.items() if on]
    if len(given) > 1:
        raise click.UsageError(f"{given[0]} and {given[1]} do not go together")


def _rename(
    person: str, words: tuple[str, ...], face_ids: tuple[int, ...], merge: bool, index_path, as_json
) -> None:
    if face_ids or len(words) != 1:
        raise click.UsageError('with --person, give only the new name: name --person OLD "NEW"')
    with Index.open(index_path) as idx:
        old = groups.someone(idx, person)  # None: rename_person says so, with names near it
        if old and groups.someone(idx, words[0]) != old:  # not the same name spelt otherwise
            merge = merge or _asked_to_merge(idx, words[0])
        naming = groups.rename_person(idx, person, words[0], merge)
    if as_json:
        report = {"index": str(idx.path), "renamed": old[0], **naming.as_dict()}
        click.echo(json.dumps(report, indent=2))
        return
    n = len(naming.face_ids)
    click.echo(f"{old[0]} ({_faces(n)}) is now {naming.name}, {_who(naming)}")


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
        click.echo(f"took the last change back: {_faces(len(back))} as they were")
    else:
        click.echo("nothing to undo")


def _forget(face_ids: tuple[int, ...], words: tuple[str, ...], index_path, as_json: bool) -> None:
    path, forgotten = _faces_changed("forget", face_ids, words, index_path, groups.forget_names)
    if as_json:
        click.echo(json.dumps({"index": path, "forgotten": forgotten}, indent=2))
        return
    for face in face_ids:
        had = "no longer has the name given to it" if face in forgotten else "had no name given"
        click.echo(f"face {face} {had}")


def _nobody(face_ids: tuple[int, ...], words: tuple[str, ...], index_path, as_json: bool) -> None:
    path, taken = _faces_changed("nobody", face_ids, words, index_path, groups.take_away)
    if as_json:
        click.echo(json.dumps({"index": path, "taken_away": taken}, indent=2))
        return
    is_, joins = ("is", "it joins") if len(taken) == 1 else ("are", "they join")
    click.echo(f"{_face_list(taken)} {is_} nobody's now ({joins} the groups of lookalike cluster)")


def _faces_changed(
    flag: str, face_ids: tuple[int, ...], words: tuple[str, ...], index_path, change
) -> tuple[str, list[int]]:
    """``name --face ID --FLAG``: ``change`` done to the faces; the index's path and the
    faces it changed."""
    if not face_ids or words:
        raise click.UsageError(f"--{flag} takes faces and no name: name --face ID --{flag}")
    with Index.open(index_path) as idx:
        return str(idx.path), change(idx, list(face_ids))

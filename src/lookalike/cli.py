"""The command line: parse, call the API, render.  No logic lives only here."""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import click

from . import (
    api,
    config,
    export,
    facemap,
    groupcli,
    maphtml,
    montage,
    search,
    servecli,
    upgrade,
)
from .clikit import (
    detection_options,
    engine_option,
    in_a_folder,
    index_option,
    json_option,
    max_pixels_option,
    picture_options,
    table,
    top_option,
    user_errors,
    wanted_settings,
)
from .faces import QUALITY, Settings, as_now, former_preset
from .gallery import BuiltinGallery, preset_of
from .index import Index, default_path, discard
from .indexer import Summary


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lookalike")
def main() -> None:
    """Find the faces that look most like yours, and tell people apart.

    \b
      lookalike match me.jpg             which celebrity do I look like? (built-in gallery)
      lookalike index ./celebs           index every face in a folder of people
      lookalike match me.jpg --top 5     the nearest indexed people
      lookalike distance a.jpg b.jpg     are these two the same person?
      lookalike people                   who is in the index
      lookalike cluster                  group the faces nobody named into people
      lookalike map --out map.png        every indexed face on a 2-D map
      lookalike serve --open             all of it on a page in your browser
      lookalike upgrade                  SFace's vectors for an index made before them

    The index is index.db in your user data folder (a lock file and the search's cache
    beside it), or the one --index or LOOKALIKE_INDEX names.  With no index of your own,
    `match` answers from the built-in gallery: a face from each of LFW's 13,233 photos of
    5,749 people.  Every command has --help with examples; --json prints JSON for scripts.
    """


@main.command("index")
@click.argument("folders", nargs=-1, required=True, type=click.Path(file_okay=False))
@index_option
@detection_options(lambda v: f"a new index: {v}; an existing one keeps its own")
@click.option("--jobs", "-j", type=click.IntRange(1), help="Worker processes [default: all cores].")
@click.option(
    "--cluster",
    metavar="ADDRESS",
    envvar="LOOKALIKE_CLUSTER",
    help="Encode on the workers of a Dask cluster (tcp://HOST:8786) instead of local "
    "processes [env LOOKALIKE_CLUSTER].",
)
@click.option(
    "--send-photos",
    is_flag=True,
    help="With --cluster: send each photo's bytes to the workers (no shared file system).",
)
@max_pixels_option
@click.option(
    "--verbose",
    "-v",
    is_flag=True,
    help="List every photo without a face or unreadable, and which face of each photo with "
    "several is its person's.",
)
@click.option(
    "--unnamed",
    is_flag=True,
    help="Take no names from folders or files: the faces belong to nobody yet "
    "(`lookalike cluster` groups them, `lookalike name` names them).",
)
@json_option
@user_errors
@engine_option
def index_cmd(
    folders,
    index_path,
    model,
    upsample,
    jitters,
    quality,
    jobs,
    cluster,
    send_photos,
    max_pixels,
    verbose,
    unnamed,
    as_json,
):
    """Detect, crop and encode every face under FOLDERS into the index.

    A folder per person (FOLDER/<person>/*.jpg) names faces after the folder; a photo
    directly in FOLDER is named after its file name.  Runs again encode only what changed.

    \b
      lookalike index ./celebs
      lookalike index ./celebs ./friends --index people.db --jobs 2
      lookalike index ./party-photos --unnamed
      lookalike index /shared/celebs --cluster tcp://scheduler:8786
    """
    summaries = []
    made_now = not Path(index_path or default_path()).exists()
    with (
        Index.open(index_path, create=True) as idx,
        api.distributor(jobs, cluster, send_photos) as distributor,
    ):
        settings = api.indexing_settings(idx, wanted_settings(model, upsample, jitters, quality))
        for folder in folders:
            summary = api.index_folder(
                folder,
                idx,
                settings,
                jobs,
                max_pixels,
                progress=True,
                unnamed=unnamed,
                distributor=distributor,
            )
            summaries.append(summary)
            _report(summary, idx.path, verbose)
            if verbose:
                _report_crowds(idx, summary.root)
            if summary.interrupted:
                break
            if not summary.photos:
                click.echo(f"{summary.root}: no photos in it (jpg, png, webp...)", err=True)
        totals = idx.counts()
        # no photo in the folders (not: none committed yet, as when stopped at once)
        nothing = made_now and not any(s.photos for s in summaries)
        if not nothing:
            _report_totals(totals)
    if nothing:
        discard(idx.path)  # an index of nothing would only answer "no one" later
        raise click.ClickException(f"no photos found: nothing indexed, no index made at {idx.path}")
    if as_json:
        report = {"index": str(idx.path), "folders": [s.as_dict() for s in summaries], **totals}
        click.echo(json.dumps(report, indent=2))
    if summaries[-1].interrupted:
        raise click.ClickException(
            f"{summaries[-1].stopped_by or 'interrupted'}: every committed batch is kept; "
            "run the same command to finish"
        )


def _report(s: Summary, index_path, verbose: bool) -> None:
    parts = [
        f"{s.photos} photos",
        f"{s.encoded} encoded",
        f"{s.unchanged} unchanged",
        f"{s.faces} faces found",
        f"{len(s.no_face)} without a face",
        f"{len(s.unreadable)} unreadable",
    ]
    if s.reused:
        parts.append(f"{s.reused} reused (moved or copied)")
    if s.removed:
        parts.append(f"{s.removed} removed")
    if s.other_files:
        parts.append(f"{s.other_files} other files skipped")
    click.echo(f"{s.root}: " + ", ".join(parts) + f" in {s.seconds:.1f}s -> {index_path}", err=True)
    if verbose:
        for path in s.no_face:
            click.echo(f"  no face: {path}", err=True)
        for path, reason in s.unreadable:
            click.echo(f"  unreadable: {path}: {reason}", err=True)
    elif s.unreadable or s.no_face:
        click.echo("  (--verbose lists them)", err=True)


def _report_crowds(idx: Index, root: str) -> None:
    """``--verbose``: which face of each photo with several is its person's."""
    crowded = idx.crowded_photos(root)
    for path, n, face, name in crowded:
        who = f"face {face} credited to {name}" if face is not None else "none credited"
        click.echo(f"  {n} faces: {path}: {who}", err=True)
    if any(face is not None for _, _, face, _ in crowded):
        click.echo(
            '  (a face credited wrongly: lookalike name --face ID "Who it is"; '
            "lookalike people NAME lists a person's faces)",
            err=True,
        )


def _report_totals(c: dict[str, int]) -> None:
    """What the index holds after the run: a rerun's own counts are all zero (nothing new)."""
    click.echo(
        f"index holds {_faces_words(c)} from {c['photos']} photos "
        f"({c['photos_without_face']} without a face, {c['unreadable_photos']} unreadable)",
        err=True,
    )


def _faces_words(c: dict[str, int], unit: str = " faces") -> str:
    """``90 faces of 5 people``, and the faces nobody is credited with where there are any."""
    unnamed = c["faces"] - c["credited_faces"]
    if not unnamed:
        return f"{c['faces']}{unit} of {c['people']} people"
    return (
        f"{c['faces']}{unit} ({c['credited_faces']} of {c['people']} people, {unnamed} "
        "unnamed: `lookalike cluster` groups them)"
    )


@main.command("match")
@click.argument("query")
@index_option
@click.option(
    "--gallery",
    type=click.Choice([BuiltinGallery.NAME]),
    help="Match against the built-in gallery: a face from every photo of LFW "
    "(5,749 people), used anyway when you have no index of your own.",
)
@click.option(
    "--lfw",
    metavar="DIR",
    help="The LFW folder (holding images/): pictures of the built-in gallery show its faces, "
    "cut from these photos.  Remembered for the next runs.  [env LOOKALIKE_LFW]",
)
@top_option("How many people (or faces) to list.")
@click.option(
    "--faces", "per_face", is_flag=True, help="List faces, not people (bystanders included)."
)
@click.option("--all-faces", is_flag=True, help="Match every face in the query photo.")
@click.option(
    "--exact",
    "search_mode",
    flag_value="exact",
    help="Search every face exactly, however many there are.",
)
@click.option(
    "--ann",
    "search_mode",
    flag_value="ann",
    help="Search the approximate nearest-neighbour index, however few faces there are "
    "[default: from 1,000,000 faces on; docs/ann.md].",
)
@click.option(
    "--tolerance",
    type=float,
    help="Call the nearest person the same person within this L2 distance (calibrated "
    "against LFW where it can be) [default: the open-set rule of docs/open-set.md].",
)
@detection_options(lambda v: "the index's own")
@max_pixels_option
@picture_options
@json_option
@user_errors
@engine_option
def match_cmd(
    query,
    index_path,
    gallery,
    lfw,
    top,
    per_face,
    all_faces,
    search_mode,
    tolerance,
    model,
    upsample,
    jitters,
    quality,
    max_pixels,
    save,
    open_picture,
    as_json,
):
    """Rank the indexed people nearest to the face in QUERY.

    QUERY is a photo, or the name of someone in the index (their own photos are left out).
    With no index of your own, the built-in LFW gallery answers: which celebrity do you
    look like?

    \b
      lookalike match me.jpg --top 5
      lookalike match me.jpg --gallery lfw
      lookalike match obama --faces --json
      lookalike match me.jpg --save matches.png --open
      lookalike match me.jpg --gallery lfw --save m.png --lfw ~/lfw
    """
    wanted = wanted_settings(model, upsample, jitters, quality)
    with api.open_index(index_path, gallery, wanted, _lfw_folder(lfw)) as idx:
        if isinstance(idx, BuiltinGallery):
            click.echo(
                f"matching against {idx.describe()}; `lookalike index DIR` makes your own", err=True
            )
        settings = api.index_settings(idx, wanted)
        q = api.make_query(idx, query, settings, all_faces, max_pixels)
        _say_how_found(query, q.found_by)
        if q.faces_found and q.faces_found > 1 and not all_faces:
            click.echo(
                f"{query}: {q.faces_found} faces; matching the largest (--all-faces matches each)",
                err=True,
            )
        if q.exclude:
            click.echo(f"matching {q.label}'s mean face; their own photos are left out", err=True)
        matches = api.match_query(idx, q, top, not per_face, tolerance, search_mode or "auto", _say)
        if as_json:
            click.echo(json.dumps(api.match_report(idx, q, matches, tolerance), indent=2))
        else:
            _print_matches(q, matches)
        if save or open_picture:
            if isinstance(idx, BuiltinGallery) and idx.lfw is None:
                click.echo(LFW_HINT, err=True)
            _picture(montage.match_montage(idx, q, matches), save, open_picture, "matches")


def _say(message: str) -> None:
    click.echo(message, err=True)


def _say_how_found(photo: str, found_by: str | None) -> None:
    if found_by:
        click.echo(
            f"{photo}: no face found with the index's settings; found {found_by} "
            "(encoded as the index's faces are)",
            err=True,
        )


def _print_matches(q: api.Query, matches: Sequence[api.Match]) -> None:
    for n, box in enumerate(q.boxes, start=1):
        if len(q.boxes) > 1:
            click.echo(f"\nface {n} ({_box_words(box)}):")
        found = [m for m in matches if m.face == n]
        click.echo(_match_table(found) if found else "(no one else in the index)")


def _box_words(box: list[int] | None) -> str:
    """``left 120, top 80, 96x96 px``: where a face is, as a person reads it."""
    if box is None:
        return "mean face"
    top, right, bottom, left = box
    return f"left {left}, top {top}, {right - left}x{bottom - top} px"


LFW_HINT = (
    "faces of the built-in gallery need the LFW photos: --lfw DIR or LOOKALIKE_LFW=DIR "
    "(the folder holding images/; remembered)"
)


def _lfw_folder(option: str | None) -> Path | None:
    """The LFW folder named by ``--lfw`` or ``$LOOKALIKE_LFW``, remembered for the next runs
    (and said so when that is new); None when neither names one."""
    named = config.named_lfw(option)
    if not named:
        return None
    root = config.lfw_root(named)
    if config.remember("lfw", str(root)):
        click.echo(f"remembered the LFW folder {root} for pictures", err=True)
    return root


def _picture(image, path: str | None, open_picture: bool, name: str) -> None:
    """Write a picture (to the temporary folder when only --open asks for one); open it."""
    written = montage.save(image, path or f"{tempfile.gettempdir()}/lookalike-{name}.png")
    click.echo(f"picture: {written}", err=True)
    why_not = montage.show(written) if open_picture else None
    if why_not:
        click.echo(f"not opened: {why_not}", err=True)


def _match_table(matches: Sequence[api.Match]) -> str:
    """The matches: one distance, the one they are ranked by, and what it means (similarity,
    words), so that every column reads in the order of the rows; the verdict's calibrated
    distance is in ``--json``."""
    rows = [("rank", "name", "distance", "similarity", "resemblance", "photo")]
    for m in matches:
        rows.append(
            (
                str(m.rank),
                m.name if m.name is not None else "(unnamed)",
                f"{m.distance:.3f}",
                f"{m.similarity:.0f}%",
                m.resemblance,
                m.photo,
            )
        )
    return table(rows, right={0, 2, 3})  # the numbers


@main.command("distance")
@click.argument("a", type=click.Path(dir_okay=False))
@click.argument("b", type=click.Path(dir_okay=False))
@click.option("--metric", type=click.Choice(search.METRICS), default="l2", show_default=True)
@click.option(
    "--tolerance",
    type=float,
    help="Same-person threshold [default: 0.6 for l2, on the distance calibrated against "
    "LFW with the default and best settings; tuned ones for l1, cosine].",
)
@detection_options(lambda v: f"default: {v}")
@max_pixels_option
@picture_options
@json_option
@user_errors
@engine_option
def distance_cmd(
    a,
    b,
    metric,
    tolerance,
    model,
    upsample,
    jitters,
    quality,
    max_pixels,
    save,
    open_picture,
    as_json,
):
    """How far apart the largest faces of photos A and B are, and whether they are one person.

    \b
      lookalike distance obama.jpg obama2.jpg
      lookalike distance a.jpg b.jpg --metric cosine --json
      lookalike distance a.jpg b.jpg --save pair.png
    """
    settings = Settings(**wanted_settings(model, upsample, jitters, quality))
    result, face_a, face_b = api.distance(a, b, metric, tolerance, settings, max_pixels)
    for face in (result.a, result.b):
        _say_how_found(face.photo, face.found_by)
        if face.faces_found > 1:
            click.echo(f"{face.photo}: {face.faces_found} faces; comparing the largest", err=True)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
    else:
        verdict = "same person" if result.same_person else "different people"
        calibrated = "" if result.calibrated is None else f" (calibrated {result.calibrated:.3f})"
        click.echo(
            f"{result.metric} distance {result.distance:.3f}{calibrated}: {verdict} "
            f"(tolerance {result.tolerance}, similarity {result.similarity:.0f}%)"
        )
    if save or open_picture:
        _picture(montage.pair_montage(result, face_a.chip, face_b.chip), save, open_picture, "pair")


@main.command("info")
@index_option
@json_option
@click.option("--verbose", "-v", is_flag=True, help="List photos without a face or unreadable.")
@user_errors
def info_cmd(index_path, as_json, verbose):
    """Where the index is, what built it, and what it holds.

    \b
      lookalike info
      lookalike info --index people.db --verbose
      lookalike info --json
    """
    data = api.info(index_path)
    if data["index"] is None:  # none made yet
        _say_no_index(data, as_json)
        return
    if verbose:
        with Index.open(index_path) as idx:
            data["problems"] = [{"photo": p, "status": s, "error": e} for p, s, e in idx.problems()]
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    lines = [
        f"index:     {data['index']}",
        f"photos:    {data['photos']} ({data['photos_without_face']} without a face, "
        f"{data['unreadable_photos']} unreadable)",
        f"faces:     {_faces_words(data, '')}",
        f"people:    {data['people']}",
        f"settings:  {_settings_line(data['settings'])}",
        f"networks:  {_networks_line(data['settings'])}",
        f"dlib:      {_dlib_line(data['dlib_running'])} running; "
        f"index made with {_dlib_line(data['dlib_at_index'])}",
        f"lfw:       {_lfw_line(data['lfw'])}",
        f"ann:       {_ann_line(data['ann'])}",
    ]
    click.echo("\n".join(lines))
    for p in data.get("problems", []):
        click.echo(f"  {p['status']}: {p['photo']}" + (f": {p['error']}" if p["error"] else ""))


def _say_no_index(data: dict, as_json: bool) -> None:
    """What answers while there is no index: the built-in gallery."""
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    g = data["gallery"]
    lines = [
        f"index:     none yet (`lookalike index DIR` makes one at {data['default_index']})",
        f"gallery:   `match` answers from the built-in LFW gallery meanwhile ({g['faces']:,} "
        f"faces of {g['people']:,} people)",
        f"networks:  {_networks_line(data['settings'])}",
        f"lfw:       {_lfw_line(data['lfw'])}",
    ]
    click.echo("\n".join(lines))


def _ann_line(ann: dict) -> str:
    """Whether match searches the approximate index, and how far its build is."""
    built = "not built yet"
    if ann["shards_built"] == ann["shards"] > 0:
        built = f"built ({ann['bytes'] / 2**20:,.0f} MiB)"
    elif ann["shards_built"]:
        built = (
            f"{ann['shards_built']} of {ann['shards']} shards built ({ann['faces_in_graphs']:,} "
            "faces; `lookalike index` builds the rest, match searches them exactly meanwhile)"
        )
    if ann["used"]:
        return f"used by match (from {ann['threshold']:,} faces on); {built}"
    return f"not used below {ann['threshold']:,} faces (match --ann forces it); {built}"


def _lfw_line(lfw: str | None) -> str:
    """Where the LFW photos are, and what that changes."""
    if lfw:
        return f"{lfw} (pictures of the built-in gallery show its faces)"
    return "not set (pictures of the built-in gallery show name cards; match --lfw DIR)"


def _dlib_line(dlib: dict | None) -> str:
    """``20.0.1 (BLAS: yes, encoder: onnx)``: the fast build (`make install-fast`) or
    dlib-bin, and who ran the encoder (not recorded before the onnx engine)."""
    if not dlib:
        return "(not recorded)"
    engine = f", encoder: {dlib['engine']}" if "engine" in dlib else ""
    engine += f" on {dlib['provider']}" if dlib.get("provider") else ""
    return f"{dlib['version']} (BLAS: {'yes' if dlib['blas'] else 'no'}{engine})"


def _networks_line(settings: dict | None) -> str:
    """Which networks made the index's vectors, with their weights."""
    if not settings:
        return "(none yet)"
    made = Settings.from_dict(settings)
    if "sface" not in made.weights:
        hint = "; `lookalike upgrade` adds SFace" if former_preset(made) else ""
        return f"dlib's encoder alone{hint}"
    weights = ", ".join(f"{name} {w:g}" for name, w in made.weights.items())
    return f"dlib's encoder and SFace, fused (weights: {weights})"


def _settings_line(settings: dict | None) -> str:
    """``--quality default (detector=hog, upsample=0, jitters=1)``: a preset by its name and
    the options of its own; other settings field by field (``info --json`` has them all)."""
    if not settings:
        return "(none yet)"
    made = Settings.from_dict(settings)
    now = as_now(made)
    preset = preset_of(now)
    if preset is None and (preset := former_preset(now)):
        now = Settings(**QUALITY[preset])
    if preset is None:
        return ", ".join(f"{k}={v}" for k, v in settings.items())
    options = ", ".join(f"{k}={settings[k]}" for k in ("detector", "upsample", "jitters"))
    former = ", ".join(f"{k}={v}" for k, v in made.as_dict().items() if getattr(now, k) != v)
    return f"--quality {preset}{f' as it was ({former})' if former else ''} ({options})"


@main.command("upgrade")
@index_option
@click.option("--jobs", "-j", type=click.IntRange(1), help="Worker processes [default: all cores].")
@max_pixels_option
@json_option
@user_errors
@engine_option
def upgrade_cmd(index_path, jobs, max_pixels, as_json):
    """Give an index made before the second network (SFace) its vectors.

    Each face the index holds is found again in its photo, by its box, and encoded by SFace;
    dlib's vectors, names and groups are kept, nothing is detected again.  Until it is done
    the index answers as before; then it answers with both networks.  Ctrl-C keeps what is
    done: run it again to finish.

    \b
      lookalike upgrade
      lookalike upgrade --index people.db --jobs 2
    """
    with Index.open(index_path) as idx:
        summary = upgrade.upgrade(idx, jobs, max_pixels, progress=True)
    if as_json:
        click.echo(json.dumps(summary.as_dict(), indent=2))
    _report_upgrade(summary)


def _report_upgrade(s: upgrade.Summary) -> None:
    """One line of what the run did, and why it is not done where it is not."""
    if "sface" in s.settings.weights and not s.upgraded:
        click.echo(f"{s.index} has SFace's vectors already: nothing to do", err=True)
        return
    done = (
        f"{s.photos} photos read again, {s.faces} faces given SFace's vectors in {s.seconds:.1f}s"
    )
    if s.upgraded:
        click.echo(f"{s.index}: {done}; it now answers with dlib's and SFace's vectors", err=True)
        return
    click.echo(f"{s.index}: {done}; {s.left} faces left", err=True)
    for photo, reason in s.unreadable:
        click.echo(f"  not read as indexed: {photo}: {reason}", err=True)
    if s.interrupted:
        raise click.ClickException(
            "interrupted: what is done is kept; run the same command to finish"
        )
    raise click.ClickException(
        f"{len(s.unreadable)} photos could not be read as they were indexed (moved, changed "
        "or deleted): `lookalike index` their folders, then run `lookalike upgrade` again"
    )


@main.command("people")
@click.argument("name", required=False)
@index_option
@click.option(
    "--gallery",
    type=click.Choice([BuiltinGallery.NAME]),
    help="List the built-in gallery's people (used anyway when you have no index).",
)
@json_option
@user_errors
def people_cmd(name, index_path, gallery, as_json):
    """List the people in the index, with how many faces and photos each has; with NAME,
    that person's faces, and whether each is theirs by its folder or by `lookalike name`.

    \b
      lookalike people
      lookalike people madonna
      lookalike people --gallery lfw --json
    """
    if name is not None:
        _person(name, index_path, gallery, as_json)
        return
    with api.open_index(index_path, gallery) as idx:
        listed = api.people(idx)
        if as_json:
            click.echo(json.dumps({"gallery": api.source(idx), "people": listed}, indent=2))
            return
        if isinstance(idx, BuiltinGallery):
            click.echo(f"{idx.describe()}:", err=True)
    rows = [("name", "faces", "photos")]
    rows += [(p["name"], str(p["faces"]), str(p["photos"])) for p in listed]
    click.echo(table(rows, right={1, 2}))


def _person(query: str, index_path, gallery, as_json: bool) -> None:
    """``people NAME``: the person's faces, and how to take a wrong one away."""
    with api.open_index(index_path, gallery) as idx:
        name, found = api.person(idx, query)
        if as_json:
            click.echo(json.dumps({"gallery": api.source(idx), "name": name, "faces": found}))
            return
    rows = [("face", "by", "box (left, top, width x height)", "photo")]
    for f in found:
        b = f["box"]
        box = f"{b['left']}, {b['top']}, {b['right'] - b['left']}x{b['bottom'] - b['top']}"
        rows.append((str(f["face_id"]), f["by"], box, f["photo"]))
    click.echo(table(rows, right={0}))
    click.echo(
        f'a face here that is not {name}: lookalike name --face ID "Who it is" (a name given '
        "by mistake: name --face ID --forget)",
        err=True,
    )


@main.command("map")
@index_option
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    callback=in_a_folder,
    help="Write the map as a picture (PNG).",
)
@click.option(
    "--html",
    type=click.Path(dir_okay=False),
    callback=in_a_folder,
    help="Write the map as one self-contained interactive page.",
)
@click.option(
    "--method",
    type=click.Choice(facemap.METHODS),
    default="pca",
    show_default=True,
    help="Projection to 2-D (umap needs the umap-learn package).",
)
@click.option(
    "--highlight",
    metavar="QUERY",
    help="Mark a photo's face (or an indexed person) and label its nearest people.",
)
@click.option("--per-person", is_flag=True, help="One point per person (their mean face).")
@top_option("How many neighbours of the highlighted face to label.")
@click.option(
    "--sample",
    type=click.IntRange(3),
    default=facemap.DEFAULT_SAMPLE,
    show_default=True,
    help="t-SNE and UMAP map a random sample of this many points.",
)
@max_pixels_option
@user_errors
def map_cmd(index_path, out, html, method, highlight, per_person, top, sample, max_pixels):
    """Draw every indexed face as a point on a 2-D map of the face space.

    \b
      lookalike map --out map.png --highlight me.jpg
      lookalike map --method tsne --html map.html
    """
    if not out and not html:
        raise click.UsageError("say where to write the map: --out map.png and/or --html map.html")
    with api.open_index(index_path) as idx:
        if isinstance(idx, BuiltinGallery):
            click.echo(f"mapping {idx.describe()}; `lookalike index DIR` makes your own", err=True)
        q = None
        if highlight:
            q = api.make_query(idx, highlight, api.index_settings(idx), max_pixels=max_pixels)
        m = facemap.for_index(idx, method, q, per_person, top, sample)
        for note in m.notes:
            click.echo(note, err=True)
        if out:
            facemap.draw(m, out)
            click.echo(out)
        if html:
            maphtml.write(m, idx, html)
            click.echo(html)


@main.command("export")
@click.argument("out", type=click.Path())
@index_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(export.FORMATS),
    help="[default: OUT's suffix (.npz, .csv, .json), else projector]",
)
@click.option(
    "--base-url",
    default="",
    help="projector: the URL OUT will be served at, for projector_config.json.",
)
@user_errors
def export_cmd(out, index_path, fmt, base_url):
    """Write every indexed face (name, photo, box, embedding) to OUT.

    \b
      lookalike export --format projector DIR    TensorFlow Embedding Projector files
      lookalike export faces.npz                 or faces.csv, faces.json
    """
    with Index.open(index_path) as idx:
        written = export.write(idx, fmt or export.format_for(out), out, base_url)
    for path in written:
        click.echo(path)


main.add_command(groupcli.cluster_cmd)
main.add_command(groupcli.name_cmd)
main.add_command(servecli.serve_cmd)

if __name__ == "__main__":
    sys.exit(main())

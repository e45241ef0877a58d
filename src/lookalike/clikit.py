"""The command line's building blocks: the options several commands share, the one-line
error for a user's mistake, and aligned tables.  :mod:`lookalike.cli` and
:mod:`lookalike.groupcli` build their commands from these."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import wraps

import click

from . import api
from .distributor import ClusterError
from .faces import QUALITY, Settings
from .images import DEFAULT_MAX_PIXELS, ImageError
from .index import IndexFileError
from .models import runtime
from .models.weights import ModelError

USER_ERRORS = (
    ImageError,
    IndexFileError,
    api.NoFaceError,
    ModelError,
    FileNotFoundError,
    ValueError,
    PermissionError,
    ClusterError,
)


def user_errors(command: Callable) -> Callable:
    """Show a user's mistake or a bad file as one line on stderr and exit 1, no traceback."""

    @wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except USER_ERRORS as e:
            raise click.ClickException(one_line(e)) from None

    return wrapper


def one_line(e: BaseException) -> str:
    text = str(e)
    if isinstance(e, OSError) and e.filename:
        text = f"{e.filename}: {e.strerror or text}"
    return " ".join(text.split())


index_option = click.option(
    "--index",
    "index_path",
    type=click.Path(dir_okay=False),
    envvar="LOOKALIKE_INDEX",
    help="Index file [default: index.db in the user data folder; env LOOKALIKE_INDEX].",
)


def top_option(help_text: str) -> Callable:
    return click.option(
        "--top", "-k", type=click.IntRange(1), default=5, show_default=True, help=help_text
    )


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def engine_option(command: Callable) -> Callable:
    """--engine and --device: who runs the face encoder and the CNN detector, and where, for
    this command and its worker processes."""

    @wraps(command)
    def wrapper(*args, engine: str | None = None, device: str | None = None, **kwargs):
        if engine:
            runtime.set_engine(engine)
        if device:
            runtime.set_device(device)
        return command(*args, **kwargs)

    wrapper = click.option(
        "--device",
        type=click.Choice(runtime.DEVICES),
        help="Where onnxruntime runs them: cuda (needs onnxruntime-gpu and an NVIDIA GPU), "
        "cpu, or auto: the GPU where there is one [default: auto; env LOOKALIKE_DEVICE].",
    )(wrapper)
    return click.option(
        "--engine",
        type=click.Choice(runtime.ENGINES),
        help="Who runs dlib's face encoder and CNN detector: onnx (onnxruntime, about 10x "
        "faster; the default where installed) or dlib itself.  The same encodings and boxes.  "
        "The second network (SFace, in --quality default and best) runs on onnxruntime either "
        "way.  [env LOOKALIKE_ENGINE]",
    )(wrapper)


max_pixels_option = click.option(
    "--max-pixels",
    type=click.IntRange(1),
    default=DEFAULT_MAX_PIXELS,
    show_default=True,
    help="Refuse photos with more pixels than this (decompression-bomb guard).",
)


def picture_options(f: Callable) -> Callable:
    """--save/--open: a picture of the faces compared."""
    f = click.option(
        "--open",
        "open_picture",
        is_flag=True,
        help="Open the picture in the system viewer (when there is a display).",
    )(f)
    return click.option(
        "--save",
        type=click.Path(dir_okay=False),
        callback=in_a_folder,
        help="Write a picture of the faces to this file (PNG).",
    )(f)


def in_a_folder(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A file to write, refused before any work where its folder does not exist (a typo in
    a folder's name should not make folders)."""
    if value is not None:
        folder = os.path.dirname(os.path.abspath(os.path.expanduser(value)))
        if not os.path.isdir(folder):
            raise click.BadParameter(f"{folder}: no such folder", ctx, param)
    return value


def detection_options(unset: Callable[[object], str]) -> Callable:
    """--model/--upsample/--jitters/--quality; ``unset(default)`` says what leaving one out
    means."""
    base = Settings()
    by_preset = f"{base.upsample}, or the --quality preset's"

    def decorate(f: Callable) -> Callable:
        f = click.option(
            "--quality",
            type=click.Choice(list(QUALITY)),
            help="default: fast, dlib's network and SFace fused; best: the most accurate, "
            "several times slower to encode; cli: face_recognition's CLI's own faces and "
            "encodings, dlib's network alone (docs/how-it-works.md).  "
            f"[{unset('default')}]",
        )(f)
        f = click.option(
            "--jitters",
            type=click.IntRange(1),
            help=f"Re-sample each face N times when encoding (slower).  [{unset(base.jitters)}]",
        )(f)
        f = click.option(
            "--upsample",
            type=click.IntRange(0, 4),
            help=f"Upsample photos N times to find smaller faces.  [{unset(by_preset)}]",
        )(f)
        f = click.option(
            "--model",
            type=click.Choice(["hog", "cnn"]),
            help="Face detector: hog (fast) or cnn (slower, more thorough).  "
            f"[{unset(base.detector)}]",
        )(f)
        return f

    return decorate


def wanted_settings(
    model: str | None, upsample: int | None, jitters: int | None, quality: str | None
) -> dict:
    """The settings fields the options ask for: the --quality preset's (every field that any
    preset sets: a preset's own value, or the default), then each option given."""
    fields = {}
    if quality:
        base = Settings().as_dict()
        fields = {k: base[k] for preset in QUALITY.values() for k in preset} | QUALITY[quality]
    given = {"detector": model, "upsample": upsample, "jitters": jitters}
    fields.update({k: v for k, v in given.items() if v is not None})
    return fields


def table(rows: list[tuple[str, ...]], right: set[int]) -> str:
    """Columns aligned by the width the terminal gives each cell (Hangul and CJK: two)."""
    from .text import display_width

    widths = [max(display_width(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = []
        for i, (c, w) in enumerate(zip(row, widths, strict=True)):
            pad = " " * (w - display_width(c))
            cells.append(pad + c if i in right else c + pad)
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)

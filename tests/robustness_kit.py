"""Helpers for the robustness tests: the real CLI as a subprocess, and odd files made on the fly.

Every file here is made inside the tests from the real photos in ``../shared/data`` (re-saved,
cut, rotated, broken with Pillow); nothing is committed.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
from conftest import DATA, EXAMPLES
from PIL import Image

_SCRIPT = Path(sys.executable).with_name("lookalike")
CLI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "lookalike.cli"]
OBAMA = EXAMPLES / "obama.jpg"
#: The EXIF orientation tag, and for each value the transpose that makes an upright photo
#: look the way a camera stores it (what ``exif_transpose`` undoes).
ORIENTATION = 0x0112
STORED_AS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def lookalike(*args: str | os.PathLike | bytes, **kwargs) -> subprocess.CompletedProcess:
    """Run the installed ``lookalike`` command; output decoded leniently (odd file names)."""
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        encoding="utf-8",
        errors="backslashreplace",
        timeout=kwargs.pop("timeout", 300),
        **kwargs,
    )


def popen(*args: str | os.PathLike, **kwargs) -> subprocess.Popen:
    """Start ``lookalike`` in a session of its own (so its whole group can be signalled),
    with Ctrl-C as a terminal's foreground command has it: an ignored or blocked SIGINT is
    inherited across exec, and Python then never raises KeyboardInterrupt (seen in the full
    suite after the Dask tests: runs that went on to the end after a Ctrl-C)."""
    return subprocess.Popen(
        [*CLI, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        encoding="utf-8",
        errors="backslashreplace",
        start_new_session=True,
        preexec_fn=_default_sigint,
        **kwargs,
    )


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT])


def assert_one_line_error(result: subprocess.CompletedProcess, *needles: str) -> None:
    """Exit 1, nothing on stdout, one ``Error:`` line on stderr holding every needle."""
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def info(index: Path) -> dict:
    result = lookalike("info", "--index", index, "--json", "--verbose")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def rows(index: Path) -> dict[str, dict]:
    """What the index holds per photo path: status, error, and its faces' boxes, embeddings."""
    db = sqlite3.connect(f"file:{index}?mode=ro", uri=True)
    try:
        out = {
            path: {"status": status, "error": error, "faces": []}
            for path, status, error in db.execute("SELECT path, status, error FROM photos")
        }
        for path, top, right, bottom, left, blob, credited in db.execute(
            "SELECT p.path, f.top, f.right, f.bottom, f.left, f.embedding, f.credited "
            "FROM faces f JOIN photos p ON p.id = f.photo_id ORDER BY f.top, f.left"
        ):
            out[path]["faces"].append(
                {
                    "box": (top, right, bottom, left),
                    "embedding": np.frombuffer(blob, "<f4"),
                    "credited": bool(credited),
                }
            )
    finally:
        db.close()
    return out


def same_content(a: dict[str, dict], b: dict[str, dict]) -> None:
    """Two indexes hold the same photos, statuses, boxes, embeddings and credits."""
    assert sorted(a) == sorted(b)
    for path in a:
        assert a[path]["status"] == b[path]["status"], path
        fa, fb = a[path]["faces"], b[path]["faces"]
        assert [f["box"] for f in fa] == [f["box"] for f in fb], path
        assert [f["credited"] for f in fa] == [f["credited"] for f in fb], path
        for x, y in zip(fa, fb, strict=True):
            assert np.array_equal(x["embedding"], y["embedding"]), path


# -- files made from real photos --------------------------------------------------------------
def face() -> Image.Image:
    """obama.jpg as an RGB image (one face, about 265 px wide)."""
    with Image.open(OBAMA) as img:
        return img.convert("RGB")


def save_modes(folder: Path) -> dict[str, Path]:
    """The face in every pixel mode a photo file can come in."""
    img = face()
    grey16 = np.asarray(img.convert("L"), dtype=np.uint16) * 257
    made = {
        "RGBA": (img.convert("RGBA"), "mode_rgba.png"),
        "LA": (img.convert("LA"), "mode_la.png"),
        "P": (img.convert("P", palette=Image.Palette.ADAPTIVE), "mode_p.png"),
        "L": (img.convert("L"), "mode_l.jpg"),
        "I;16": (Image.fromarray(grey16), "mode_i16.png"),
        "CMYK": (img.convert("CMYK"), "mode_cmyk.jpg"),
    }
    out = {}
    for mode, (image, name) in made.items():
        image.save(folder / name)
        with Image.open(folder / name) as check:
            assert check.mode == mode, (name, check.mode)
        out[mode] = folder / name
    return out


def save_oriented(path: Path, orientation: int) -> None:
    """The face stored the way a camera held sideways (or mirrored) stores it, tagged so."""
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    face().transpose(STORED_AS[orientation]).save(path, exif=exif.tobytes(), quality=95)


def save_broken_exif(path: Path) -> None:
    """A PNG whose ImageMagick-style EXIF text is not hex: Pillow's exif_transpose raises."""
    from PIL import PngImagePlugin

    text = PngImagePlugin.PngInfo()
    text.add_text("Raw profile type exif", "\nexif\n      12\nnot hex at all\n")
    face().save(path, pnginfo=text)


def save_animated_gif(path: Path) -> None:
    """Three frames: the face first, then two blank frames."""
    img = face()
    blanks = [Image.new("RGB", img.size, colour) for colour in ("white", "black")]
    img.save(path, save_all=True, append_images=blanks, duration=100, loop=0)


def save_bomb(path: Path, width: int = 50_000, height: int = 50_000) -> None:
    """A 60-byte PNG whose header claims ``width x height`` pixels (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


#: Where save_huge pastes the face (3x obama.jpg: 2730x3411) in its 8000x6000 photo.
HUGE_FACE_AT = (2635, 1294)


def save_huge(path: Path) -> None:
    """A big valid photo (8000x6000, 48 Mpx) with the face, enlarged 3x, in its middle."""
    canvas = Image.new("RGB", (8000, 6000), (118, 128, 140))
    img = face()
    canvas.paste(
        img.resize((img.width * 3, img.height * 3), Image.Resampling.BICUBIC), HUGE_FACE_AT
    )
    canvas.save(path, quality=90)


def save_crowd(path: Path, people: int = 12) -> None:
    """A group photo: ``people`` LFW portraits of different people tiled 4 across."""
    lfw = sorted((DATA / "lfw" / "images").iterdir())[:people]
    tiles = [Image.open(next(iter(sorted(person.iterdir())))).convert("RGB") for person in lfw]
    cols = 4
    rows_ = -(-people // cols)
    canvas = Image.new("RGB", (250 * cols, 250 * rows_), "white")
    for n, tile in enumerate(tiles):
        canvas.paste(tile, (250 * (n % cols), 250 * (n // cols)))
    canvas.save(path, quality=92)


def save_no_face(path: Path) -> None:
    """The lower part of obama.jpg: a real photo (suit and tie) with no face in it."""
    img = face()
    img.crop((0, 600, img.width, img.height)).save(path, quality=92)


def save_truncated(path: Path) -> None:
    data = OBAMA.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def save_swapped_formats(folder: Path) -> tuple[Path, Path]:
    """A PNG named .jpg and a JPEG named .png."""
    png, jpeg = folder / "png_named.jpg", folder / "jpeg_named.png"
    face().save(png, "PNG")
    face().save(jpeg, "JPEG", quality=92)
    return png, jpeg


def non_utf8_name(folder: Path) -> bytes:
    """A copy of obama.jpg under a Latin-1 file name (b'caf\\xe9.jpg'), as bytes."""
    path = os.path.join(os.fsencode(folder), b"caf\xe9.jpg")
    shutil.copyfile(OBAMA, path)
    return path


# -- permissions -----------------------------------------------------------------------------
_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 1, 2


def _drop_file_override() -> None:
    """In the child, before exec: drop root's power to read any file whatever its mode."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def permission_respecting() -> dict:
    """subprocess arguments under which ``chmod 000`` really makes a file unreadable.

    Tests run as root in CI, and root reads any file; a root process that drops
    CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from its bounding set before exec does not.
    Returns ``{}`` for an ordinary user; raises OSError where the capabilities cannot be
    dropped (the caller skips).
    """
    if os.geteuid() != 0:
        return {}
    try:
        subprocess.run(["true"], preexec_fn=_drop_file_override, check=True)
    except (subprocess.SubprocessError, OSError) as e:
        raise OSError(f"cannot drop CAP_DAC_OVERRIDE ({e})") from None
    return {"preexec_fn": _drop_file_override}

"""``lookalike serve``: a local page to match, compare and name faces, and a JSON API.

A thin web layer over :mod:`lookalike.api` and :mod:`lookalike.groups`, as the command line
is: every answer is what a command prints with ``--json`` (``POST /api/match`` is ``match
--json``, ``POST /api/distance`` is ``distance --json``), every change is what ``lookalike
name`` or ``cluster`` does.  Flask routes, served by waitress (docs/serve.md says why).

Each request opens the index anew (SQLite connections stay in their thread; opening costs
about a millisecond), so a ``lookalike index`` run beside the server is read as it commits;
a change asked for while it writes is refused with 409, never waited for.  The networks are
loaded once a process and run one request at a time (:data:`_models`): dlib's calls are not
documented thread-safe, and two cores gain little from running two at once.

Only two kinds of pictures are served, both by face id: a face's chip, and the photo that
holds it, decoded and re-encoded as JPEG after its bytes are checked against the hash the
index recorded (a photo replaced since, or a link pointed elsewhere, is not served).
:mod:`lookalike.webguard` refuses requests from other sites.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path

from flask import Flask, Response, abort, current_app, jsonify, request
from PIL import Image
from waitress import create_server
from werkzeug.exceptions import HTTPException

from . import api, facemap, groups, maphtml
from .clikit import USER_ERRORS, one_line
from .gallery import BuiltinGallery
from .images import ImageError, load_photo, shrink
from .index import Index, IndexBusyError
from .webguard import TOKEN_HEADER, hosts, new_token, refusal, token_ok

#: Uploads larger than this are refused (413) before they are read.
MAX_UPLOAD = 25 * 1024 * 1024
#: The longest side of a photo as the page shows it.
PHOTO_SIDE, PREVIEW_SIDE = 1600, 960
WEB = Path(__file__).with_name("web")

_models = threading.Lock()


def make_app(
    index_path: str | os.PathLike | None = None,
    lfw: str | os.PathLike | None = None,
    host: str = "127.0.0.1",
    port: int = 8765,
) -> Flask:
    """The app over the index at ``index_path`` (the default one; the built-in gallery
    while there is none), answering requests for ``host:port``."""
    app = Flask(__name__, static_folder=str(WEB / "static"), static_url_path="/static")
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_UPLOAD,
        INDEX=index_path,
        LFW=lfw,
        TOKEN=new_token(),
        HOSTS=hosts(host, port),
        MAPS={},
    )
    app.json.sort_keys = False  # the keys in the order --json prints them
    app.before_request(_guard)
    app.register_error_handler(HTTPException, _http_error)
    for error in USER_ERRORS:
        app.register_error_handler(error, _user_error)
    _pages(app)
    _answers(app)
    _changes(app)
    return app


def _guard() -> Response | None:
    why = refusal(request.headers, current_app.config["HOSTS"])
    return _error(why, 403) if why else None


def _error(message: str, status: int, **more) -> Response:
    response = jsonify({"error": message, **more})
    response.status_code = status
    return response


def _http_error(e: HTTPException) -> Response:
    if e.code == 413:
        return _error(f"the upload is over {MAX_UPLOAD // 2**20} MB", 413)
    return _error(e.description or e.name, e.code or 500)


def _user_error(e: Exception) -> Response:
    status = 409 if isinstance(e, IndexBusyError) else 404 if isinstance(e, LookupError) else 400
    return _error(one_line(e), status)


@contextmanager
def _opened() -> Iterator[Index | BuiltinGallery]:
    """What the server answers from: the index, or the built-in gallery while there is none
    (:func:`api.open_index`)."""
    with api.open_index(current_app.config["INDEX"], lfw=current_app.config["LFW"]) as idx:
        yield idx


@contextmanager
def _writable() -> Iterator[Index]:
    with _opened() as idx:
        if isinstance(idx, BuiltinGallery):
            raise ValueError(
                "the built-in gallery cannot be changed: `lookalike index DIR` makes your own"
            )
        yield idx


def changes_index(view: Callable) -> Callable:
    """A view that changes the index: it needs the page's token."""

    @wraps(view)
    def checked(*args, **kwargs):
        if not token_ok(request.headers, current_app.config["TOKEN"]):
            return _error(f"a change to the index needs the page's {TOKEN_HEADER} header", 403)
        return view(*args, **kwargs)

    return checked


# -- pages and pictures ------------------------------------------------------------------
def _pages(app: Flask) -> None:
    @app.get("/")
    def page():
        html = (WEB / "page.html").read_text(encoding="utf-8")
        return Response(html.replace("{{token}}", app.config["TOKEN"]), mimetype="text/html")

    @app.get("/face/<int:face_id>.jpg")
    def face(face_id: int):
        with _opened() as idx:
            jpeg = idx.chip(face_id) if _known(idx, face_id) else None
        return _jpeg(jpeg) if jpeg else abort(404, f"no picture of face {face_id}")

    @app.get("/photo/<int:face_id>.jpg")
    def photo(face_id: int):
        with _opened() as idx:
            data = _photo_bytes(idx, face_id) if _known(idx, face_id) else None
        if data is None:
            abort(404, f"no photo of face {face_id}")
        try:
            pixels, _ = shrink(load_photo(io.BytesIO(data)).pixels, PHOTO_SIDE)
        except ImageError:
            abort(404, f"the photo of face {face_id} cannot be read")
        return _jpeg(_encoded(pixels))

    @app.get("/map")
    def face_map():
        with _opened() as idx:
            key = (str(idx.path), idx.generation() if isinstance(idx, Index) else None)
            maps = app.config["MAPS"]
            if key not in maps:
                maps.clear()
                maps[key] = maphtml.page(facemap.for_index(idx), idx)
        return Response(maps[key], mimetype="text/html")


def _known(idx: Index | BuiltinGallery, face_id: int) -> bool:
    return not isinstance(idx, BuiltinGallery) or face_id < len(idx.X)


def _photo_bytes(idx: Index | BuiltinGallery, face_id: int) -> bytes | None:
    """The bytes of the photo holding the face, when they are still what was indexed."""
    if isinstance(idx, BuiltinGallery):
        path = idx.photo_path(face_id)
        return path.read_bytes() if path and path.is_file() else None
    found = idx.photo_of_face(face_id)
    if found is None or not os.path.isfile(found[0]):
        return None
    data = Path(found[0]).read_bytes()
    return data if _sha1(data) == found[1] else None


def _sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def _jpeg(data: bytes) -> Response:
    response = Response(data, mimetype="image/jpeg")
    response.headers["Cache-Control"] = "no-cache"
    return response


def _encoded(pixels) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=85)
    return buf.getvalue()


# -- answers: what --json prints ---------------------------------------------------------
def _answers(app: Flask) -> None:
    @app.get("/api/info")
    def info():
        with _opened() as idx:
            return jsonify({"gallery": api.source(idx), "describe": describe(idx)})

    @app.post("/api/match")
    def match():
        top = _number("top", 5, 1, 100)
        with _upload("photo") as (path, label), _opened() as idx:
            settings = api.index_settings(idx)
            with _models, _named(path, label):
                q = api.make_query(idx, path, settings, all_faces=_flag("all"))
            report = api.match_report(idx, q, api.match_query(idx, q, top))
            report["query"]["photo"] = label
            if _flag("preview"):
                report["preview"] = _preview(path)
        return jsonify(report)

    @app.post("/api/distance")
    def distance():
        with _upload("a") as (a, label_a), _upload("b") as (b, label_b):
            with _models, _named(a, label_a), _named(b, label_b):
                result, _, _ = api.distance(a, b)
            result.a.photo, result.b.photo = label_a, label_b
            report = result.as_dict()
            if _flag("preview"):
                report["previews"] = [_preview(a), _preview(b)]
        return jsonify(report)

    @app.get("/api/people")
    def people():
        with _opened() as idx:
            return jsonify({"gallery": api.source(idx), "people": api.people(idx)})

    @app.get("/api/person")
    def person():
        with _opened() as idx:
            name, faces = api.person(idx, request.args.get("name", ""))
        return jsonify({"name": name, "faces": faces})

    @app.get("/api/someone")
    def someone():
        """Whether a name is someone's already (the page says a naming will merge)."""
        name = request.args.get("name", "")
        with _opened() as idx:
            known = None if isinstance(idx, BuiltinGallery) else groups.someone(idx, name)
        return jsonify({"person": {"name": known[0], "faces": known[1]} if known else None})

    @app.get("/api/groups")
    def listed():
        with _opened() as idx:
            shown = [] if isinstance(idx, BuiltinGallery) else groups.listed(idx)
            return jsonify(_groups_report(idx, shown))


def describe(idx: Index | BuiltinGallery) -> str:
    """What the server answers from, in a few words."""
    if isinstance(idx, BuiltinGallery):
        return idx.describe()
    counts = idx.counts()
    return f"{idx.path}: {counts['faces']:,} faces of {counts['people']:,} people"


def _groups_report(idx: Index | BuiltinGallery, shown: list[groups.Group]) -> dict:
    """The groups as ``cluster --json`` lists them, and how many faces are unnamed."""
    source = api.source(idx)
    return {
        "gallery": source,
        "unnamed_faces": source["faces"] - source["credited_faces"],
        "groups": [] if isinstance(idx, BuiltinGallery) else groups.describe(idx, shown),
    }


def _number(field: str, default: int, low: int, high: int) -> int:
    raw = request.values.get(field)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ValueError(f"{field} must be a whole number from {low} to {high}, not {raw!r:.20}")
    return int(raw)


def _flag(field: str) -> bool:
    return request.values.get(field, "") not in ("", "0", "false")


@contextmanager
def _upload(field: str) -> Iterator[tuple[str, str]]:
    """The uploaded file of multipart field ``field`` in a private temporary folder, and the
    name the user gave it (errors name that, never the temporary path)."""
    sent = request.files.get(field)
    if sent is None:
        raise ValueError(f"send the photo as the multipart field {field!r}")
    label = os.path.basename((sent.filename or field).replace("\\", "/")) or field
    with tempfile.TemporaryDirectory(prefix="lookalike-upload-") as folder:
        path = os.path.join(folder, field)
        sent.save(path)
        yield path, label


@contextmanager
def _named(path: str, label: str) -> Iterator[None]:
    """Errors about the upload at ``path`` name it as the user did (``label``)."""
    try:
        yield
    except (ImageError, api.NoFaceError) as e:
        raise type(e)(str(e).replace(path, label)) from None


def _preview(path: str) -> dict:
    """The uploaded photo as the page shows it (upright, at most :data:`PREVIEW_SIDE`),
    and its size in the original's pixels, in which the faces' boxes are."""
    photo = load_photo(path)
    pixels, _ = shrink(photo.pixels, PREVIEW_SIDE)
    src = "data:image/jpeg;base64," + base64.b64encode(_encoded(pixels)).decode("ascii")
    return {"src": src, "width": photo.width, "height": photo.height}


# -- changes: what `lookalike name` and `cluster` do --------------------------------------
def _changes(app: Flask) -> None:
    @app.post("/api/groups/cluster")
    @changes_index
    def regroup():
        with _writable() as idx:
            groups.cluster_index(idx)
            return jsonify(_groups_report(idx, groups.listed(idx)))

    @app.post("/api/groups/name")
    @changes_index
    def name_group():
        body = _body()
        with _writable() as idx:
            gid, name = int(body.get("group", -1)), str(body.get("name", ""))
            groups.group_faces(idx, gid)
            refused = _merge_refused(idx, name, body)
            if refused:
                return refused
            return jsonify(groups.name_group(idx, gid, name, bool(body.get("merge"))).as_dict())

    @app.post("/api/people/rename")
    @changes_index
    def rename():
        body = _body()
        with _writable() as idx:
            old, new = str(body.get("person", "")), str(body.get("name", ""))
            refused = _merge_refused(idx, new, body, old)
            if refused:
                return refused
            naming = groups.rename_person(idx, old, new, bool(body.get("merge")))
            return jsonify(naming.as_dict())

    @app.post("/api/faces/take-away")
    @changes_index
    def take_away():
        with _writable() as idx:
            faces = [int(f) for f in _body().get("face_ids", [])]
            return jsonify({"taken_away": groups.take_away(idx, faces)})

    @app.post("/api/groups/merge")
    @changes_index
    def merge():
        body = _body()
        with _writable() as idx:
            keep, other = int(body.get("keep", -1)), int(body.get("other", -1))
            return jsonify({"group": keep, "moved": groups.merge_groups(idx, keep, other)})

    @app.post("/api/groups/move-out")
    @changes_index
    def move_out():
        with _writable() as idx:
            face = int(_body().get("face_id", -1))
            return jsonify({"face_id": face, "group": groups.move_out(idx, face)})

    @app.post("/api/undo")
    @changes_index
    def undo():
        with _writable() as idx:
            return jsonify({"undone": groups.undo(idx)})


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValueError("send the change as a JSON object")
    return body


def _merge_refused(idx: Index, name: str, body: dict, renamed: str | None = None):
    """409 naming the person ``name`` is already (and how many faces they have) when the
    change would merge without ``merge`` asked for; None otherwise."""
    known = groups.someone(idx, name)
    itself = renamed is not None and api.find_person([renamed], name) is not None
    if known is None or body.get("merge") or itself:
        return None
    return _error(
        f"{known[0]} is already in the index ({known[1]} faces): merge to make them one person",
        409,
        person={"name": known[0], "faces": known[1]},
    )


def serve(app: Flask, host: str, port: int, threads: int = 8):
    """A waitress server for ``app`` on ``host:port`` (0: any free port), answering requests
    for the port it took; ``run()`` serves until ``close()``."""
    # requests waiting for a thread are normal here (the networks run one at a time): not
    # worth a warning each
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    server = create_server(app, host=host, port=port, threads=threads, ident="lookalike")
    app.config["HOSTS"] = hosts(host, server.effective_port)
    return server

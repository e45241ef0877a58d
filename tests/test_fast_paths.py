"""The fast paths give the answers of the slow ones: shrunk detection, the process pool, the
cached HOG detector and the search sidecar (no timings here: see bench/)."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from conftest import DATA, EXAMPLES, needs_data
from PIL import Image

from lookalike import api
from lookalike.faces import QUALITY, Settings, detect
from lookalike.images import Photo, load_photo, shrink
from lookalike.index import DIM, Index, Names, PhotoRecord, pack
from lookalike.models import dlibnets, hog


def _iou(a, b) -> float:
    top, bottom, left, right = max(a[0], b[0]), min(a[2], b[2]), max(a[3], b[3]), min(a[1], b[1])
    inter = max(0, bottom - top) * max(0, right - left)
    union = (a[2] - a[0]) * (a[1] - a[3]) + (b[2] - b[0]) * (b[1] - b[3]) - inter
    return inter / union


@needs_data
@pytest.mark.parametrize(
    "photo", ["two_people.jpg", "obama-1080p.jpg", "knn/test/obama_and_biden.jpg"]
)
def test_the_shrunk_copy_finds_the_faces_of_the_full_photo(photo):
    pixels = load_photo(EXAMPLES / photo)
    full = detect(pixels, Settings(shrink=0))  # 0: detect on the photo itself
    shrunk = detect(pixels, Settings())
    assert len(shrunk) == len(full) >= 1
    for f in full:
        best = max(shrunk, key=lambda s: _iou(f.box, s.box))
        assert _iou(f.box, best.box) > 0.6
        # the same face, not only the same person (HOG's box moves with the scale, and the
        # 5-point landmarks with the box: a few hundredths are expected)
        assert np.linalg.norm(f.embedding - best.embedding) < 0.2


def _faces_by_path(path) -> dict[str, list[tuple[list[int], np.ndarray]]]:
    with Index.open(path) as idx:
        g = idx.gallery()
        info = idx.describe_faces(g.face_ids)
    out: dict[str, list] = {}
    for row, fid in enumerate(g.face_ids):
        out.setdefault(info[int(fid)]["path"], []).append((info[int(fid)]["box"], g.X[row]))
    return {p: sorted(v, key=lambda f: f[0]) for p, v in out.items()}


@needs_data
def test_the_pool_gives_the_embeddings_of_one_process(tmp_path):
    folder = EXAMPLES / "knn" / "test"  # 5 photos, 8 faces
    api.index(folder, tmp_path / "one.db", jobs=1)
    api.index(folder, tmp_path / "two.db", jobs=2)
    one, two = _faces_by_path(tmp_path / "one.db"), _faces_by_path(tmp_path / "two.db")
    assert one.keys() == two.keys() and sum(map(len, one.values())) == 8
    for path, faces_one in one.items():
        assert [b for b, _ in faces_one] == [b for b, _ in two[path]]
        for (_, x), (_, y) in zip(faces_one, two[path], strict=True):
            assert np.array_equal(x, y)


@needs_data
def test_a_corrupt_cached_hog_detector_is_rebuilt(tmp_path, monkeypatch):
    photo = load_photo(EXAMPLES / "two_people.jpg")
    expected = [f.box for f in detect(photo, Settings())]
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    dlibnets.hog_detector.cache_clear()
    try:
        dlibnets.hog_detector()  # builds and saves it
        (saved,) = tmp_path.glob("lookalike/frontal_face_detector-*.svm")
        saved.write_bytes(b"not a detector")
        dlibnets.hog_detector.cache_clear()
        assert [f.box for f in detect(photo, Settings())] == expected
        assert saved.stat().st_size > 100_000  # rewritten whole
    finally:
        dlibnets.hog_detector.cache_clear()


# -- the search sidecar ---------------------------------------------------------------------
def _add_photos(idx: Index, start: int, count: int, rng) -> None:
    """Photos of one synthetic face each: person i % 7, unit vectors (the real store)."""
    items = []
    for i in range(start, start + count):
        v = rng.normal(size=DIM).astype(np.float32)
        record = PhotoRecord(f"/photos/p{i}.jpg", f"person{i % 7}", 1, 1, f"{i:040x}", "ok")
        items.append((record, [(0, 10, 10, 0, pack(v / np.linalg.norm(v)), None, None)]))
    idx.write(items)
    for name in {f"person{i % 7}" for i in range(start, start + count)}:
        rows = idx.faces_of_person(name)
        idx.set_credited(name, [r[0] for r in rows])


@pytest.fixture
def synthetic(tmp_path) -> Index:
    idx = Index.open(tmp_path / "s.db", create=True)
    _add_photos(idx, 0, 50, np.random.default_rng(1))
    yield idx
    idx.close()


def _sidecar_files(idx: Index) -> list[str]:
    return sorted(p.name for p in idx.path.parent.glob(idx.path.name + ".g*"))


def _assert_same(a, b) -> None:
    assert np.array_equal(a.X, b.X) and np.array_equal(a.face_ids, b.face_ids)
    assert np.array_equal(a.person, b.person) and a.names == b.names
    assert np.allclose(a.sq, np.einsum("ij,ij->i", b.X, b.X))


def test_the_sidecar_gives_the_search_results_of_sqlite(synthetic):
    from_sqlite, _ = synthetic._read_gallery()
    synthetic.gallery()  # writes the sidecar
    assert len(_sidecar_files(synthetic)) == 3
    cached = synthetic.gallery()  # maps it
    assert isinstance(cached.X, np.ndarray) and not cached.X.flags.writeable
    _assert_same(cached, from_sqlite)
    for q in from_sqlite.X[:5]:
        for per_person in (True, False):
            assert api.rank(cached, q, 5, per_person) == api.rank(from_sqlite, q, 5, per_person)


def test_any_write_makes_the_sidecar_stale_and_it_is_rebuilt(synthetic):
    before = synthetic.gallery()
    _add_photos(synthetic, 50, 3, np.random.default_rng(2))
    after = synthetic.gallery()
    assert len(after.X) == len(before.X) + 3
    _assert_same(after, synthetic._read_gallery()[0])
    synthetic.remove(["/photos/p0.jpg"])  # faces removed by cascade
    assert len(synthetic.gallery().X) == len(before.X) + 2
    synthetic.set_credited("person1", [])  # who is credited changes the gallery too
    assert "person1" not in synthetic.gallery().names
    assert len(_sidecar_files(synthetic)) == 3  # older generations are dropped


@pytest.mark.parametrize(
    "damage", ["garbage", "truncated", "float64", "pickle", "rows", "names", "no names"]
)
def test_a_damaged_sidecar_is_never_trusted(synthetic, damage):
    expected = synthetic.gallery()
    vectors = synthetic.path.parent / next(f for f in _sidecar_files(synthetic) if "vectors" in f)
    if damage == "garbage":
        vectors.write_bytes(b"\x93NUMPY garbage")
    elif damage == "truncated":
        vectors.write_bytes(vectors.read_bytes()[:-100])
    elif damage == "float64":
        np.save(vectors, np.asarray(expected.X, np.float64))
    elif damage == "pickle":
        np.save(vectors, np.array([object()] * 3), allow_pickle=True)
    elif damage == "rows":
        np.save(vectors.with_name(vectors.name.replace("vectors", "rows")), expected.face_ids)
    elif damage == "names":
        np.save(vectors.with_name(vectors.name.replace("vectors", "names")), np.arange(3))
    else:
        vectors.with_name(vectors.name.replace("vectors", "names")).unlink()
    _assert_same(synthetic.gallery(), synthetic._read_gallery()[0])
    _assert_same(synthetic.gallery(), expected)  # and the rebuilt files are right again


def test_the_sidecar_names_are_looked_up_as_a_list_of_them_is(synthetic):
    names = synthetic._read_gallery()[0].names
    synthetic.gallery()
    mapped = synthetic.gallery().names
    assert isinstance(mapped, Names) and mapped == names and len(mapped) == len(names)
    assert [mapped[i] for i in range(len(names))] == names == mapped[:]
    assert all(mapped.index(n) == names.index(n) and n in mapped for n in names)
    assert "nobody" not in mapped and 3 not in mapped
    with pytest.raises(ValueError):
        mapped.index("nobody")


def test_an_older_sidecar_format_is_replaced(synthetic):
    synthetic.gallery()
    _add_photos(synthetic, 50, 1, np.random.default_rng(4))
    generation = synthetic.generation()
    old = [  # the sidecar's rows before 2026-12-04, of an older and of this generation
        synthetic.path.with_name(f"{synthetic.path.name}.g{g}.rows.npz")
        for g in (generation - 1, generation)
    ]
    for path in old:
        path.write_bytes(b"PK")
    _assert_same(synthetic.gallery(), synthetic._read_gallery()[0])
    assert not any(p.exists() for p in old) and len(_sidecar_files(synthetic)) == 3


def test_an_index_older_than_the_sidecar_is_read_from_sqlite_then_upgraded(synthetic):
    expected = synthetic._read_gallery()[0]
    with synthetic.db:
        for trigger in ("faces_added", "faces_removed", "faces_changed", "photos_renamed"):
            synthetic.db.execute(f"DROP TRIGGER {trigger}")
        synthetic.db.execute("DELETE FROM meta WHERE key = 'generation'")
    _assert_same(synthetic.gallery(), expected)
    assert _sidecar_files(synthetic) == []
    with synthetic.writer():  # the next `lookalike index` upgrades it
        pass
    _add_photos(synthetic, 50, 1, np.random.default_rng(3))
    assert len(synthetic.gallery().X) == len(expected.X) + 1
    assert len(_sidecar_files(synthetic)) == 3


def test_the_generation_moves_with_writes_from_any_connection(synthetic):
    synthetic.gallery()
    other = sqlite3.connect(synthetic.path)
    with other:
        other.execute("UPDATE faces SET credited = 0")
    other.close()
    assert synthetic.gallery().names == []


@needs_data
def test_the_detection_copy_made_while_decoding_is_the_one_shrink_makes():
    photo = load_photo(EXAMPLES / "obama-1080p.jpg", detect_side=640)
    made, factor = photo.shrunk[640, "bilinear"]
    again, factor_again = shrink(photo.pixels, 640)
    assert made.shape == (360, 640, 3) and np.array_equal(made, again) and factor == factor_again
    assert load_photo(EXAMPLES / "obama_small.jpg", detect_side=640).shrunk == {}  # 320 px


#: 1800 px, five faces of 84-250 px that face_recognition's CLI finds on four pyramid levels.
GROUP = DATA / "photos" / "serena_williams" / "GettyImages-2493795.jpg"
CLI = Settings(**QUALITY["cli"])


@needs_data
def test_the_lanczos_copy_is_the_thumbnail_face_recognitions_cli_makes():
    photo = load_photo(GROUP, detect_side=1600, resample="lanczos")
    made, factor = photo.shrunk[1600, "lanczos"]
    cli = Image.fromarray(np.asarray(Image.open(GROUP).convert("RGB")))
    cli.thumbnail((1600, 1600), Image.LANCZOS)
    assert np.array_equal(made, np.asarray(cli)) and factor == 1800 / 1600
    assert np.array_equal(shrink(photo.pixels, 1600, "lanczos")[0], made)


@needs_data
@pytest.mark.parametrize(("upsample", "min_side"), [(1, 85), (0, 100)])
def test_hog_levels_find_the_full_scans_boxes_of_the_faces_looked_for(upsample, min_side):
    """Skipping the pyramid levels of the small faces changes no box of the bigger ones."""
    pixels, _ = shrink(load_photo(GROUP).pixels, 1600, "lanczos")
    full = list(dlibnets.hog_detector()(pixels, upsample))
    first = hog.first_level(upsample, min_side)
    smallest = hog.HOG_BOX * hog.HOG_LEVEL_RATIO**first / 2**upsample
    expected = sorted(_ltrb(r) for r in full if r.right() - r.left() >= 0.95 * smallest)
    assert first >= 2 and expected
    assert sorted(_ltrb(r) for r in hog.levels(pixels, upsample, min_side)) == expected
    if upsample:
        assert len(expected) < len(full)  # the face of 84 px is under this min_side


@needs_data
@pytest.mark.parametrize(("side", "found"), [(640, True), (1024, False)])
def test_the_cli_preset_looks_for_small_faces_down_to_a_sixteenth_of_the_photo(side, found):
    """A photo without a face of 80 px is scanned again for faces of 1/16 of its longest side
    (the CLI's own boxes): a 43 px face in 640 px, not in 1024 px."""
    face = Image.open(EXAMPLES / "obama.jpg").convert("RGB")
    face.thumbnail((160, 160))
    canvas = Image.new("RGB", (side, side * 3 // 4), "white")
    canvas.paste(face, (side // 3, side // 4))
    photo = Photo(np.asarray(canvas), 1.0, canvas.width, canvas.height)
    full = [_ltrb(r) for r in dlibnets.hog_detector()(photo.pixels, 1)]
    assert len(full) == 1  # the CLI finds it in both
    ours = [(f.box[3], f.box[0], f.box[1], f.box[2]) for f in detect(photo, CLI)]
    assert ours == (full if found else [])


def _ltrb(rect) -> tuple[int, int, int, int]:
    return rect.left(), rect.top(), rect.right(), rect.bottom()


@needs_data
def test_the_cli_preset_gives_face_recognitions_boxes_and_encodings():
    face_recognition = pytest.importorskip("face_recognition")
    image = Image.fromarray(face_recognition.load_image_file(GROUP))
    image.thumbnail((1600, 1600), Image.LANCZOS)  # the CLI's own steps
    pixels = np.asarray(image)
    located = face_recognition.face_locations(pixels)
    boxes = [tuple(round(v * 1800 / 1600) for v in box) for box in located]
    theirs = dict(zip(boxes, face_recognition.face_encodings(pixels), strict=True))
    ours = {f.box: f.embedding for f in detect(load_photo(GROUP), CLI)}
    tall = {box for box in theirs if box[2] - box[0] >= 80}
    assert len(tall) == 5 and tall <= set(ours)
    for box in tall:
        assert np.linalg.norm(ours[box] - theirs[box]) < 1e-4

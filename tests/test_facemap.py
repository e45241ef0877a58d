"""lookalike map: the PNG and the interactive page hold every face, and the query is marked."""

import base64
import io
import json
import os
import re
import shutil
import subprocess
from dataclasses import replace

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import CELEBS, needs_data
from matplotlib.colors import to_rgb
from PIL import Image

from lookalike import api, facemap, maphtml
from lookalike.cli import main
from lookalike.index import Index

pytestmark = needs_data

#: a photo of one of the indexed people (the first of her queries; None without the data,
#: where every test here is skipped)
QUERY = min((CELEBS / "queries" / "madonna").glob("*"), default=None)
GOLD = np.array([255, 215, 0])  # facemap.HIGHLIGHT


def run(*args, ok=True):
    result = CliRunner().invoke(main, [str(a) for a in args])
    if ok:
        assert result.exit_code == 0, result.output
    return result


def gold_pixels(path) -> int:
    with Image.open(path) as im:
        assert im.format == "PNG" and im.width > 600 and im.height > 400
        px = np.asarray(im.convert("RGB")).astype(int)
    assert px.std() > 20 and (px < 200).any(axis=2).mean() > 0.01  # not blank
    return int((np.abs(px - GOLD).sum(axis=2) < 30).sum())


def test_map_png_marks_the_highlighted_query(tmp_path, celebs_index):
    plain, marked = tmp_path / "plain.png", tmp_path / "marked.png"
    run("map", "--index", celebs_index, "--out", plain)
    run("map", "--index", celebs_index, "--out", marked, "--highlight", QUERY)
    assert gold_pixels(plain) == 0
    assert gold_pixels(marked) > 100


def test_the_star_leaves_the_dot_under_it_visible(tmp_path, celebs_index):
    """A photo of the index is the face it holds: its dot lies right under the star."""
    photo = next((CELEBS / "gallery" / "madonna").iterdir())
    with Index.open(celebs_index) as idx:
        q = api.make_query(idx, str(photo), api.index_settings(idx))
        m = facemap.for_index(idx, "pca", q, top=1)
    facemap.draw(m, tmp_path / "m.png")
    with Image.open(tmp_path / "m.png") as im:
        px = np.asarray(im.convert("RGB")).astype(int)
    ys, xs = np.nonzero(np.abs(px - GOLD).sum(axis=2) < 30)
    cy, cx = (ys.min() + ys.max()) // 2, (xs.min() + xs.max()) // 2
    dot = np.array(to_rgb(m.space.colours()[m.space.names.index("madonna")])) * 255
    centre = px[cy - 4 : cy + 5, cx - 4 : cx + 5].reshape(-1, 3)
    assert (np.abs(centre - dot).sum(axis=1) < 60).any()


def test_map_places_every_face_and_the_query_near_its_person(celebs_index):
    with Index.open(celebs_index) as idx:
        q = api.make_query(idx, str(QUERY), api.index_settings(idx))
        m = facemap.for_index(idx, "pca", q, top=3)
        faces = api.info(celebs_index)["faces"]
    assert m.xy.shape == (faces, 2) and len(m.space.paths) == faces
    assert [m.space.label(r) for r in m.neighbours][0] == "madonna"
    assert len(m.neighbours) == 3 == len(set(m.space.person[m.neighbours]))
    own = m.xy[m.space.person == m.space.names.index("madonna")].mean(axis=0)
    others = [m.xy[m.space.person == c].mean(axis=0) for c in range(len(m.space.names))]
    assert np.linalg.norm(m.query_xy - own) == min(np.linalg.norm(m.query_xy - o) for o in others)


def test_tsne_maps_a_sample_that_keeps_the_neighbours(celebs_index):
    with Index.open(celebs_index) as idx:
        q = api.make_query(idx, str(QUERY), api.index_settings(idx))
        space = facemap.face_space(idx)
        full = facemap.build(space, "pca", q, top=5)
        m = facemap.build(space, "tsne", q, top=5, sample=30)
    # the query's neighbours the random sample left out come after it
    assert 30 <= len(m.space) <= 35 and m.total == len(space) and "30 faces" in m.notes[0]
    assert [m.space.label(r) for r in m.neighbours] == [
        full.space.label(r) for r in full.neighbours
    ]
    assert np.allclose(m.distances, full.distances)
    assert np.isfinite(m.xy).all() and m.query_xy is not None


@pytest.mark.parametrize(("method", "sample"), [("pca", 2000), ("tsne", 2000), ("tsne", 30)])
def test_a_query_does_not_move_the_map(celebs_index, method, sample):
    with Index.open(celebs_index) as idx:
        q = api.make_query(idx, str(QUERY), api.index_settings(idx))
        space = facemap.face_space(idx)
    plain = facemap.build(space, method, sample=sample)
    marked = facemap.build(space, method, q, sample=sample)
    assert np.array_equal(marked.xy[: len(plain.xy)], plain.xy)
    assert marked.space.paths[: len(plain.xy)] == plain.space.paths
    assert np.isfinite(marked.query_xy).all()
    if method == "pca":  # and how to read the map, in words
        assert "% of the variation" in marked.axes[0]
    else:
        assert "only neighbourhoods" in marked.reading


def lab(colour: str) -> np.ndarray:
    """CIELAB of an sRGB colour (D65), where distances follow what the eye sees."""
    rgb = np.array(to_rgb(colour))
    linear = np.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = m @ linear / np.array([0.95047, 1.0, 1.08883])
    fx, fy, fz = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)])


def test_every_person_gets_a_clearly_different_colour(celebs_index):
    with Index.open(celebs_index) as idx:
        space = facemap.face_space(idx)
    people = replace(space, person=np.arange(len(space)) % facemap.MAX_COLOURED)
    people.names = [f"p{i}" for i in range(facemap.MAX_COLOURED)]
    colours = people.colours()
    assert len(set(colours[:-1])) == facemap.MAX_COLOURED and colours[-1] == facemap.BYSTANDER
    # tab20 has pairs 17 apart (a light and a dark blue...); these are all at least 25
    for i, a in enumerate(colours[:-1]):
        for b in [*colours[:i], facemap.BYSTANDER, facemap.HIGHLIGHT]:
            assert np.linalg.norm(lab(a) - lab(b)) > 25, (a, b)


def test_per_person_tsne_png(tmp_path, celebs_index):
    out = tmp_path / "people.png"
    result = run(
        "map",
        "--index",
        celebs_index,
        "--per-person",
        "--method",
        "tsne",
        "--out",
        out,
        "--highlight",
        "madonna",
    )
    assert result.stdout.strip() == str(out)
    assert gold_pixels(out) > 100
    with Index.open(celebs_index) as idx:
        assert len(facemap.people_space(idx)) == 5


def test_umap_is_optional(tmp_path, celebs_index):
    out = tmp_path / "u.png"
    try:
        import umap  # noqa: F401
    except ImportError:
        result = run("map", "--index", celebs_index, "--method", "umap", "--out", out, ok=False)
        assert result.exit_code == 1 and "umap-learn" in result.stderr
        assert not out.exists()
        return
    run("map", "--index", celebs_index, "--method", "umap", "--out", out)
    assert gold_pixels(out) == 0


def test_map_needs_an_output(celebs_index):
    result = run("map", "--index", celebs_index, ok=False)
    assert result.exit_code == 2 and "--out" in result.stderr


# -- the interactive page ------------------------------------------------------------------
def page_data(path) -> dict:
    text = path.read_text(encoding="utf-8")
    found = re.search(r'<script id="data" type="application/json">(.*?)</script>', text, re.S)
    return json.loads(found.group(1))


def test_html_has_one_point_per_face_and_is_self_contained(tmp_path, celebs_index):
    out = tmp_path / "map.html"
    run("map", "--index", celebs_index, "--html", out, "--highlight", QUERY)
    text = out.read_text(encoding="utf-8")
    data = page_data(out)
    faces = api.info(celebs_index)["faces"]
    assert len(data["xy"]) == len(data["person"]) == len(data["paths"]) == faces
    assert all(0 <= v <= 1 for xy in data["xy"] for v in xy)
    assert set(data["names"]) == {p.name for p in (CELEBS / "gallery").iterdir()}
    assert data["query"]["neighbours"] and data["query"]["label"]
    assert not re.search(r"""(src|href)=["']?(https?:)?//|url\(\s*["']?(https?:)?//""", text)
    sprite = base64.b64decode(data["sprite"].split(",", 1)[1])
    with Image.open(io.BytesIO(sprite)) as im:
        assert im.width == data["cols"] * data["side"]
        assert im.height >= -(-faces // data["cols"]) * data["side"]


def test_html_keeps_names_in_any_script_intact(celebs_index):
    names = ["아이유", "Zoë </script><b>", "Путин", "مريم", "王菲"]
    with Index.open(celebs_index) as idx:
        space = replace(facemap.face_space(idx), names=names)
        text = maphtml.page(facemap.build(space, "pca"), idx)
    found = re.search(r'<script id="data" type="application/json">(.*?)</script>', text, re.S)
    data = json.loads(found.group(1))
    assert data["names"] == names and "</script><b>" not in text
    assert data["colours"][:5] == list(facemap.PALETTE[:5])
    assert data["reading"].startswith("Each dot is a face")


#: Debian's chromium, headless as root, quiet on a machine with no network (a fresh
#: --user-data-dir is added by each caller).
HEADLESS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
)


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("CI must install Debian's chromium (.ci/run does)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return exe


def headless(tmp_path, *args) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    cmd = [chromium(), *HEADLESS, f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_html_renders_in_headless_chromium(tmp_path, celebs_index):
    page = tmp_path / "map.html"
    run("map", "--index", celebs_index, "--html", page, "--highlight", QUERY)
    data = page_data(page)
    shot = tmp_path / "shot.png"
    headless(tmp_path, "--window-size=1000,820", f"--screenshot={shot}", page.as_uri())
    with Image.open(shot) as im:
        px = np.asarray(im.convert("RGB")).astype(int)
    coloured = (px.max(axis=2) - px.min(axis=2)) > 60
    assert coloured.sum() > 2000  # the dots and the star were drawn
    assert (np.abs(px - GOLD).sum(axis=2) < 40).sum() > 50

    point = data["query"]["neighbours"][0]
    dom = headless(tmp_path, "--dump-dom", f"{page.as_uri()}#point={point}").stdout
    assert f'data-points="{len(data["xy"])}"' in dom
    tip = re.search(
        r'<div id="tip" data-point="(\d+)" style="display: block;.*?</div></div>', dom, re.S
    )
    assert tip and int(tip.group(1)) == point
    assert data["names"][data["person"][point]] in tip.group(0)
    assert "background-image: url(&quot;data:image/jpeg;base64," in tip.group(0)


def test_the_html_legend_names_the_unnamed_grey_dots(tmp_path, celebs_index):
    """celebs5 holds a bystander: its grey dot has a legend entry too (issue 35)."""
    page = tmp_path / "map.html"
    run("map", "--index", celebs_index, "--html", page)
    assert any(p < 0 for p in page_data(page)["person"])
    dom = headless(tmp_path, "--dump-dom", page.as_uri()).stdout
    legend = re.search(r'<div id="legend">(.*?)</div>', dom, re.S).group(1)
    assert "(unnamed)" in legend and "madonna" in legend

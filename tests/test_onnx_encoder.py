"""dlib's face encoder on onnxruntime: the reader of dlib's .dat, the graph, the cached model,
and parity with dlib's own ``compute_face_descriptor`` on real chips."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import EXAMPLES, LFW, needs_data

from lookalike import faces
from lookalike.images import load_photo
from lookalike.models import dlibdnn, dlibnets, encoder, runtime, weights
from lookalike.models.weights import ENCODER_FILE

pytest.importorskip("onnxruntime")

#: Every ONNX encoding within this L2 distance of dlib's (encodings are about 1.3 long).
PARITY = 1e-4
WEIGHTS = weights.model_dir() / weights.ENCODER_FILE


@pytest.fixture(scope="module")
def net() -> dlibdnn.Network:
    return dlibdnn.read(WEIGHTS)


@pytest.fixture(scope="module")
def dlib_encoder():
    import dlib

    return dlib.face_recognition_model_v1(str(WEIGHTS))


def dlib_embed(dlib_encoder, chips: list[np.ndarray]) -> np.ndarray:
    return np.array([dlib_encoder.compute_face_descriptor(c) for c in chips], np.float32)


def test_reader_on_the_real_file(net):
    counts = {kind: net.count(kind) for kind in dlibdnn.COMPUTING}
    assert counts == {
        "con": 29,
        "affine": 29,
        "relu": 29,
        "max_pool": 1,
        "avg_pool": 5,  # 4 in the down-sampling blocks, avg_pool_everything
        "add_prev": 14,
        "fc": 1,
    }
    assert net.size == 150
    assert net.means == pytest.approx((122.782, 117.001, 104.298), abs=1e-4)
    first = net.layers[-1]  # the innermost: con<32,7,7,2,2>
    assert first.weights["w"].shape == (32, 3, 7, 7)
    assert (first.attrs["stride_y"], first.attrs["pad_y"]) == (2, 0)
    assert net.layers[0].weights["w"].shape == (256, 128)  # fc_no_bias<128>
    cons = [layer for layer in net.layers if layer.kind == "con"]
    assert sorted({c.weights["w"].shape[0] for c in cons}) == [32, 64, 128, 256]
    params = sum(w.size for layer in net.layers for w in layer.weights.values())
    assert 5.5e6 < params < 5.7e6
    for layer in net.layers:
        for w in layer.weights.values():
            assert w.dtype == np.float32 and np.isfinite(w).all()


def test_float_details():
    # the loss layer's margin and threshold as dlib wrote them: mantissa, then exponent
    r = dlibdnn._Reader(bytes.fromhex("030ad7a3811c 039a99998118 01000100 81010105 0100 02007d"))
    assert r.real() == pytest.approx(0.04)
    assert r.real() == pytest.approx(0.6)
    assert r.real() == 0.0
    assert r.real() == -(2.0**5)  # a negative mantissa: the sign bit of its control byte
    assert r.real() == np.inf  # exponent 32000


def test_reader_refuses_other_files(tmp_path):
    with pytest.raises(dlibdnn.FormatError):
        dlibdnn.read(weights.model_dir() / weights.LANDMARK_FILES["5-point"])
    cut = tmp_path / "cut.dat"
    cut.write_bytes(WEIGHTS.read_bytes()[:1_000_000])
    with pytest.raises(dlibdnn.FormatError, match="end of file"):
        dlibdnn.read(cut)


def test_graph_matches_dlib_on_random_chips(net, dlib_encoder):
    chips = list(np.random.default_rng(0).integers(0, 256, (4, 150, 150, 3), np.uint8))
    ours = encoder.embed(chips)
    assert ours.shape == (4, 128) and ours.dtype == np.float32
    assert np.linalg.norm(ours - dlib_embed(dlib_encoder, chips), axis=1).max() < PARITY


def test_model_cached_by_the_weights_hash(tmp_path, monkeypatch):
    weights = tmp_path / ENCODER_FILE
    weights.write_bytes(WEIGHTS.read_bytes())
    path = encoder.load_model(weights, tmp_path / "cache")
    assert path == encoder.model_path(weights, tmp_path / "cache") and path.stat().st_size > 2e7

    def no_build(*args):
        raise AssertionError("built again")

    monkeypatch.setattr(dlibdnn, "to_onnx", no_build)
    assert encoder.load_model(weights, tmp_path / "cache") == path
    weights.write_bytes(weights.read_bytes() + b"x")
    assert encoder.model_path(weights, tmp_path / "cache") != path  # a changed file: a new model


def test_unwritable_cache_builds_in_memory(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    model = encoder.load_model(WEIGHTS, blocked / "cache")
    assert isinstance(model, bytes) and model.startswith(b"\x08")  # ONNX: ir_version first


def test_damaged_cached_model_is_built_again(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(encoder, "_session", encoder._session.__wrapped__)
    import platformdirs

    cached = encoder.model_path(WEIGHTS, Path(platformdirs.user_cache_dir("lookalike")))
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"damaged")
    assert encoder._session().get_outputs()[0].name == "embeddings"
    assert cached.stat().st_size > 2e7


def test_threads(monkeypatch):
    monkeypatch.delenv("LOOKALIKE_ONNX_THREADS", raising=False)
    assert runtime.threads() == 1
    monkeypatch.setenv("LOOKALIKE_ONNX_THREADS", "3")
    assert runtime.threads() == 3
    monkeypatch.setenv("LOOKALIKE_ONNX_THREADS", "many")
    with pytest.raises(ValueError):
        runtime.threads()


def real_chips(count: int) -> list[np.ndarray]:
    """The chips lookalike cuts from the example photos and one photo each of ``count`` LFW
    people spread over the alphabet."""
    people = sorted((LFW / "images").iterdir())
    lfw = [sorted(p.glob("*.jpg"))[0] for p in people[:: len(people) // count][:count]]
    examples = sorted(p for p in EXAMPLES.iterdir() if p.suffix in (".jpg", ".png"))
    chips = []
    for path in examples + lfw:
        chips += [face.chip for face in faces.detect(load_photo(path), faces.Settings())]
    return chips


@needs_data
@pytest.mark.slow
def test_parity_on_real_chips(dlib_encoder, capsys):
    chips = real_chips(50)
    assert len(chips) >= 50
    ours = np.concatenate([encoder.embed(chips[i : i + 8]) for i in range(0, len(chips), 8)])
    gaps = np.linalg.norm(ours - dlib_embed(dlib_encoder, chips), axis=1)
    with capsys.disabled():
        median = np.median(gaps)
        print(f"\n{len(chips)} chips, L2 to dlib: max {gaps.max():.2e}, median {median:.2e}")
    assert gaps.max() < PARITY


def test_one_chip_or_many_give_the_same(dlib_encoder):
    chips = list(np.random.default_rng(1).integers(0, 256, (3, 150, 150, 3), np.uint8))
    one_by_one = np.concatenate([encoder.embed([c]) for c in chips])
    assert np.abs(one_by_one - encoder.embed(chips)).max() < 1e-5


# -- the engine choice ---------------------------------------------------------------------


@pytest.fixture
def no_engine(monkeypatch):
    """No engine chosen; whatever a test chooses is undone after it (an empty value is no
    choice, and monkeypatch restores what it set, not what it only deleted)."""
    monkeypatch.setenv("LOOKALIKE_ENGINE", "")


def test_engine_choice(no_engine, monkeypatch):
    assert runtime.engine() == "onnx"  # onnxruntime is installed
    runtime.set_engine("dlib")
    assert runtime.engine() == "dlib" and dlibnets.dlib_info()["engine"] == "dlib"
    with pytest.raises(ValueError, match="unknown encoder engine"):
        runtime.set_engine("tensorflow")
    assert runtime.engine() == "dlib"  # the choice before stands
    monkeypatch.setattr(runtime, "available", lambda: False)
    monkeypatch.setenv("LOOKALIKE_ENGINE", "")
    assert runtime.engine() == "dlib"
    with pytest.raises(runtime.ModelError, match="onnxruntime"):
        runtime.set_engine("onnx")


def test_engines_embed_alike(no_engine, monkeypatch):
    """faces.embed's mean of several chips (mirrored too) is the same with either engine;
    jittered encodings (dlib's random crops) are dlib's whatever the engine."""
    chips = list(np.random.default_rng(2).integers(0, 256, (2, 150, 150, 3), np.uint8))
    by = {}
    for name in runtime.ENGINES:
        runtime.set_engine(name)
        by[name] = faces.embed(chips, faces.Settings(mirror=True))
    assert by["onnx"].shape == (128,) and by["onnx"].dtype == np.float32
    assert np.linalg.norm(by["onnx"] - by["dlib"]) < PARITY

    def refuse(chips):
        raise AssertionError("jittered chips sent to onnxruntime")

    monkeypatch.setattr(encoder, "embed", refuse)
    assert faces.embed(chips[:1], faces.Settings(jitters=2)).shape == (128,)


@needs_data
def test_cli_engine(no_engine):
    from click.testing import CliRunner

    from lookalike.cli import main

    photos = [str(EXAMPLES / "obama.jpg"), str(EXAMPLES / "obama2.jpg")]
    distances = {}
    for name in runtime.ENGINES:
        result = CliRunner().invoke(main, ["distance", *photos, "--engine", name, "--json"])
        assert result.exit_code == 0, result.output
        distances[name] = json.loads(result.output)["distance"]
    assert distances["onnx"] == pytest.approx(distances["dlib"], abs=1e-5)
    refused = CliRunner().invoke(main, ["distance", *photos, "--engine", "cuda"])
    assert refused.exit_code == 2 and "cuda" in refused.output


# -- the device ----------------------------------------------------------------------------


def has_cuda() -> bool:
    import onnxruntime as ort

    return runtime.CUDA in ort.get_available_providers()


needs_cuda = pytest.mark.skipif(
    not has_cuda(), reason="onnxruntime has no CUDA provider here (onnxruntime-gpu, a GPU)"
)


@pytest.fixture
def no_device(monkeypatch, no_engine):
    """No device chosen, and sessions built for whatever a test chooses dropped after it."""
    from lookalike.models import cnn

    monkeypatch.setenv("LOOKALIKE_DEVICE", "")
    yield
    encoder._session.cache_clear()
    cnn._detector.cache_clear()


def test_device_choice(no_device):
    assert runtime.device() == "auto"
    runtime.set_device("cpu")
    assert runtime.device() == "cpu" and runtime.providers() == [runtime.CPU]
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        runtime.set_device("tpu")
    assert runtime.device() == "cpu"  # the choice before stands
    runtime.set_engine("dlib")
    with pytest.raises(runtime.ModelError, match="needs the onnx engine"):
        runtime.set_device("cuda")


def test_auto_runs_on_the_gpu_where_there_is_one(no_device):
    encoder._session.cache_clear()
    assert encoder.provider() == (runtime.CUDA if has_cuda() else runtime.CPU)


@pytest.mark.skipif(has_cuda(), reason="onnxruntime has a CUDA provider here")
@needs_data
def test_cli_device_cuda_without_one_is_one_line(no_device):
    from click.testing import CliRunner

    from lookalike.cli import main

    photos = [str(EXAMPLES / "obama.jpg"), str(EXAMPLES / "obama2.jpg")]
    result = CliRunner().invoke(main, ["distance", *photos, "--device", "cuda"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: --device cuda: this onnxruntime has no CUDA provider")
    assert result.output.count("\n") == 1 and "Traceback" not in result.output


@needs_data
@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=needs_cuda)])
def test_cli_device_gives_the_cpu_encodings(no_device, device):
    """On either device the same distance as dlib's own encoder, and `info` names the
    provider that ran."""
    from click.testing import CliRunner

    from lookalike.cli import main

    photos = [str(EXAMPLES / "obama.jpg"), str(EXAMPLES / "obama2.jpg")]
    dlib = CliRunner().invoke(main, ["distance", *photos, "--engine", "dlib", "--json"])
    runtime.set_engine("onnx")
    encoder._session.cache_clear()
    result = CliRunner().invoke(main, ["distance", *photos, "--device", device, "--json"])
    assert result.exit_code == 0, result.output
    distance = json.loads(result.output)["distance"]
    assert distance == pytest.approx(json.loads(dlib.output)["distance"], abs=1e-4)
    assert encoder.provider() == {"cpu": runtime.CPU, "cuda": runtime.CUDA}[device]

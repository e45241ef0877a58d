"""What face_recognition's CLI finds in a folder: its faces' boxes and encodings, as JSON.

The CLI prints only a name per face, so the agreement checks of the benchmark need this
replay of its ``test_image`` step by step (same loading, same 1600 px thumbnail, same HOG
detection and 5-point encoding).  Boxes are mapped back to the original photo's pixels.
Run it with the baseline's interpreter: ``python bench/reference.py FOLDER OUT.json``.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys

#: The CLI shrinks photos larger than this (longest side, LANCZOS) before detecting.
CLI_MAX_SIDE = 1600


def faces_in(path: str) -> dict:
    """The CLI's faces in one photo: box (top, right, bottom, left) in original pixels."""
    import face_recognition
    import numpy as np
    import PIL.Image

    image = face_recognition.load_image_file(path)
    height, width = image.shape[:2]
    if max(image.shape) > CLI_MAX_SIDE:
        pil_img = PIL.Image.fromarray(image)
        pil_img.thumbnail((CLI_MAX_SIDE, CLI_MAX_SIDE), PIL.Image.LANCZOS)
        image = np.array(pil_img)
    scale = width / image.shape[1]
    boxes = face_recognition.face_locations(image)  # trimmed to the photo
    encodings = face_recognition.face_encodings(image)  # as the CLI: from the untrimmed boxes
    return {
        "path": os.path.basename(path),
        "width": width,
        "height": height,
        "faces": [
            {"box": [round(v * scale) for v in box], "encoding": [float(x) for x in enc]}
            for box, enc in zip(boxes, encodings, strict=True)
        ],
    }


def cli_photos(folder: str) -> list[str]:
    """The files the CLI reads in ``folder`` (its own rule: jpg, jpeg or png, not recursive)."""
    from face_recognition.face_recognition_cli import image_files_in_folder

    return sorted(image_files_in_folder(folder))


def main(folder: str, out: str, cpus: int = 2) -> None:
    with multiprocessing.Pool(cpus) as pool:
        photos = pool.map(faces_in, cli_photos(folder), chunksize=1)
    with open(out, "w") as f:
        json.dump(photos, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], *(int(a) for a in sys.argv[3:]))

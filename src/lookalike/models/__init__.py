"""The networks: every face model lookalike runs, and nothing else.

One layer below :mod:`lookalike.faces`, which detects, aligns and asks these for vectors;
nothing here imports it.  ``weights`` finds the weight files (never downloaded), ``runtime``
holds onnxruntime's sessions and the choice of engine and device, ``dlibnets`` loads dlib's
own models once a process, ``hog`` scans dlib's HOG pyramid from a given level, ``dlibdnn``
reads dlib's DNN files and builds ONNX graphs of them for ``encoder`` (dlib's face encoder)
and ``cnn`` (dlib's CNN face detector); ``sface`` is the second network, OpenCV Zoo's SFace.
Each network takes aligned faces and gives ``n x 128`` vectors (or, the detectors, boxes).
"""

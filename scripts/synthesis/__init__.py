"""Dataset synthesis: the detector's training data, rendered by the simulator.

It joins the renderer (``geo.sim``) with the detector's YOLO datasets (``detector.yolo_dataset``),
so it lives in neither package. Entry: ``scripts.synthesis.dataset.synth_dataset`` (the
``camcensus dataset synth`` command).
"""

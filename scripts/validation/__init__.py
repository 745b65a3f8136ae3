"""Validation and research: how well the estimate and the detector hold, measured, not used by the app.

- ``validate_estimator``: truth-only replicates with a card-based error model (``--rendered`` runs
  ``validate_rendered``);
- ``validate_rendered``: rendered surveys detected by the real models, the estimate against truth;
- ``validate_osm_compare``: the OSM comparison against the simulator's truth;
- ``race``: the equal-budget detector race and the held-out style comparison.

The per-camera logit effect they share is the estimator's too: ``geo.counting.heterogeneity``.
The benchmarks (``scripts/bench``) are research too; they keep their own package so that
``python -m scripts.bench.NAME`` stays short. Nothing in the app (cli, commands, survey, review)
imports this package.
"""

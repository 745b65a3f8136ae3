"""scripts/validation/validate_estimator.py: the replicates' systematic grid follows the sampler."""

import numpy as np
import pandas as pd

from scripts.validation.validate_estimator import systematic_ranks


def test_systematic_replicates_keep_the_samplers_points_on_short_streets():
    # a dense 10 m grid on a 25 m and a 100 m street, cut to a 40 m design many times
    lengths = pd.Series({1: 25.0, 2: 100.0})
    offsets = {1: [2.0, 12.0, 22.0], 2: [4.0 + 10 * k for k in range(10)]}
    points = pd.DataFrame([{"street_id": s, "offset_m": o} for s, offs in offsets.items() for o in offs])
    rng = np.random.default_rng(0)
    first_long = []
    for _ in range(200):
        keep = systematic_ranks(points, lengths, spacing=40.0, rng=rng)
        kept = points[keep]
        counts = kept.groupby("street_id").size()
        # floor(L / 40) + 1 points per street: the short street is never left bare
        assert counts.get(1, 0) == 1 and counts.get(2, 0) == 3
        long_offsets = np.sort(kept.loc[kept["street_id"] == 2, "offset_m"].to_numpy())
        assert (np.abs(np.diff(long_offsets) - 40.0) <= 10.0).all()  # within one dense step
        first_long.append(long_offsets[0])
    # the start is uniform over the slack (20 m): the dense points nearest it all come up
    assert {4.0, 14.0} <= set(np.round(first_long)) <= {4.0, 14.0, 24.0}

import numpy as np

from geo.counting.evengrid import interp_even
from geo.counting.heterogeneity import _shift_table


def test_interp_even_gives_np_interps_values_bit_for_bit_on_its_grid_edges_and_outside():
    grid, shift = _shift_table(1.7)  # the logit table every camera / view pair is looked up in
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-16.0, 16.0, 20_000), grid, np.nextafter(grid, np.inf), np.nextafter(grid, -np.inf),
                        [np.nan, np.inf, -np.inf, grid[0], grid[-1]]])
    got, want = interp_even(x, grid, shift), np.interp(x, grid, shift)
    assert np.array_equal(got, want, equal_nan=True)
    assert np.array_equal(np.signbit(got), np.signbit(want))


def test_interp_even_falls_back_where_the_grid_is_not_even():
    xp = np.array([0.0, 1.0, 1.5, 4.0, 9.0])
    fp = np.array([2.0, -1.0, 0.5, 3.0, 3.5])
    x = np.random.default_rng(1).uniform(-1.0, 10.0, 1_000)
    assert np.array_equal(interp_even(x, xp, fp), np.interp(x, xp, fp))

"""P(real) from a card's false rate per image: the per-bin mixture (issue 27, docs/estimator.md 16)."""

import numpy as np
import pytest

EDGES = np.array([0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
# the shipped card's counts (cctv-yolo11n-synth3-avg): real detections and false boxes per bin on 3,000 views
CARD = {"precision_bins": {"edges": EDGES.tolist(), "n": [67, 91, 301, 97, 0], "real": [51, 85, 300, 97, 0]},
        "recall_bins": {"edges_px": [0, 100000], "n": [10], "found": [5]},
        "false_bins": {"edges": EDGES.tolist(), "false": [10, 3, 0, 0, 0], "n_images": 3000}}


def _card():
    from geo.counting.calibration import calibration_from_dict

    return calibration_from_dict(CARD)


def test_real_share_is_the_cards_real_detections_with_a_half_count():
    cal = _card()
    share = cal.real_share()
    assert share.sum() == pytest.approx(1.0)
    assert share == pytest.approx((np.array([51, 85, 300, 97, 0]) + 0.5) / 535.5)


def test_real_singles_fit_is_the_poisson_mixtures_maximum_likelihood():
    from scipy.optimize import minimize_scalar

    from geo.counting.estimate import real_singles_fit

    share = _card().real_share()
    rng = np.random.default_rng(3)
    for _ in range(20):
        singles = rng.poisson(rng.uniform(0, 6, 5)).astype(float)
        false = rng.uniform(0, 3, 5) * (rng.random(5) < 0.6)
        m = real_singles_fit(singles, false, share)

        def nll(x, singles=singles, false=false):
            mu = x * share + false
            return -np.sum(np.where(singles > 0, singles * np.log(np.maximum(mu, 1e-300)), 0.0) - mu)

        best = minimize_scalar(nll, bounds=(0.0, singles.sum() + 1.0), method="bounded", options={"xatol": 1e-9})
        assert nll(m) <= nll(best.x) + 1e-6
        assert 0.0 <= m <= singles.sum()
    # one bin: M = S - E (the per-bin subtraction), and 0 once the false ones expected outnumber the singles
    assert real_singles_fit(np.array([7.0]), np.array([2.5]), np.array([1.0])) == pytest.approx(4.5)
    assert real_singles_fit(np.array([2.0]), np.array([2.5]), np.array([1.0])) == 0.0
    assert real_singles_fit(np.zeros(5), np.ones(5), share) == 0.0


def test_a_bin_the_card_saw_no_false_detection_in_is_charged_none_of_another_bins():
    # t07 / t08 of the rendered surveys (docs/estimator.md 15.1): 300 images, a few singles all at
    # 0.7-0.8 and none below, where the card expects 1.3 false detections. The carry spent them on the
    # 0.7-0.8 singles; the mixture leaves those real and charges the low bins only.
    from geo.counting import estimate
    from geo.counting.estimate import false_detections_by_bin, reality_from_false, reality_from_rate

    cal = _card()
    false_b = cal.false_rates() * 300
    conf = np.full(4, 0.75)
    q = reality_from_rate(np.ones(4), conf, false_b, cal.real_share(), EDGES)
    assert (q > 0.99).all(), q
    assert estimate.CARRY_FALSE_SHORTFALL
    carried = reality_from_false(np.ones(4), conf, conf, false_detections_by_bin(
        conf, EDGES, false_rate=cal.false_rates(), n_images=300), EDGES)
    assert (carried < 0.75).all(), carried
    # a single at 0.5-0.6 among them is doubtful (the card expects 1 false detection there and ~0.5 real)
    q2 = reality_from_rate(np.ones(5), np.r_[conf, 0.55], false_b, cal.real_share(), EDGES)
    assert 0.2 < q2[-1] < 0.5 and (q2[:4] > 0.99).all()
    # the top bin, where the card had no detection at all, keeps the bin below's P(real)
    q3 = reality_from_rate(np.ones(3), np.array([0.75, 0.95, 0.55]), false_b, cal.real_share(), EDGES)
    assert q3[1] >= q3[0] > 0.98
    # multi-detection cameras are real
    assert reality_from_rate(np.array([3.0]), np.array([0.55]), false_b, cal.real_share(), EDGES)[0] == 1.0


def _survey(rng, pi_pop, rate, share, n_img, false_scale=1.0):
    """One survey's singles: the real cameras found with their pi, conf bins as the card's real
    detections; false singles Poisson(false_scale x rate x images) per bin, weighted like found ones."""
    found = rng.random(len(pi_pop)) < pi_pop
    real_bin = rng.choice(5, found.sum(), p=share)
    false_bin = np.repeat(np.arange(5), rng.poisson(false_scale * rate * n_img))
    pi = np.r_[pi_pop[found], rng.choice(pi_pop, len(false_bin), p=pi_pop / pi_pop.sum())]
    conf = EDGES[np.r_[real_bin, false_bin]] + 0.05
    return pi, conf, found.sum()


@pytest.mark.slow
def test_the_mixture_is_unbiased_and_its_stated_variance_is_its_spread_over_surveys():
    # 12 real cameras (pi 0.1-0.8), the card's false rate on 300 images: sum P(real) / pi is the truth
    # on average, and the found + reality variance states the estimate's spread over surveys
    from geo.counting.estimate import StripParts, found_variance, reality_from_rate, reality_variance

    cal = _card()
    share, rate, n_img, n_real = cal.real_share(), cal.false_rates(), 300, 12
    rng = np.random.default_rng(1)
    pi_pop = rng.uniform(0.1, 0.8, n_real)
    errors, stated, count = [], [], []
    for _ in range(1500):
        pi, conf, n_found = _survey(rng, pi_pop, rate, share, n_img)
        n = len(pi)
        q = reality_from_rate(np.ones(n), conf, rate * n_img, share, EDGES)
        errors.append((q / pi).sum() - n_real)
        count.append(q.sum() - n_found)
        parts = StripParts(inside=np.arange(n), pair_cam=np.arange(n), pair_area=np.zeros(n, np.int64),
                           klass=np.array(["dome"] * n), box_m=np.full(n, 0.33), pairs=None, n_detections=np.ones(n),
                           conf_max=conf, detection_conf=conf, n_images=n_img, false_rate=rate, real_share=share)
        stated.append(found_variance(parts, {"q": q, "pi": pi}, 1, curves=cal.curves())[0]
                      + reality_variance(parts, q, pi, cal.curves(), 1, fixed_totals=False)[0])
    errors = np.array(errors)
    assert abs(errors.mean()) < 3 * errors.std() / np.sqrt(len(errors)) + 0.05, errors.mean()
    assert abs(np.mean(count)) < 0.15, np.mean(count)
    assert 0.85 < np.mean(stated) / errors.var() < 1.15, np.mean(stated) / errors.var()


def test_a_card_rate_that_transfers_high_costs_the_mixture_less_than_the_carry():
    # the surveys realize 0.6x the card's false rate (docs/estimator.md 15.2): the carry spends the
    # excess on the high-confidence singles, the mixture only on the low bins' (-8% against -3% here)
    from geo.counting.estimate import false_detections_by_bin, reality_from_false, reality_from_rate

    cal = _card()
    share, rate, n_img, n_real = cal.real_share(), cal.false_rates(), 300, 12
    rng = np.random.default_rng(2)
    pi_pop = rng.uniform(0.1, 0.8, n_real)
    mix, carry = [], []
    for _ in range(1500):
        pi, conf, _ = _survey(rng, pi_pop, rate, share, n_img, false_scale=0.6)
        n = len(pi)
        mix.append((reality_from_rate(np.ones(n), conf, rate * n_img, share, EDGES) / pi).sum() - n_real)
        false_b = false_detections_by_bin(conf, EDGES, false_rate=rate, n_images=n_img)
        carry.append((reality_from_false(np.ones(n), conf, conf, false_b, EDGES) / pi).sum() - n_real)
    se = np.std(carry) / np.sqrt(len(carry))
    assert np.mean(carry) < np.mean(mix) - 4 * se, (np.mean(mix), np.mean(carry))
    assert np.mean(mix) > 0.6 * np.mean(carry)


def test_strip_parts_with_a_real_share_use_the_mixture_and_without_it_the_carry():
    from geo.counting.estimate import StripParts

    cal = _card()
    conf = np.array([0.75, 0.75, 0.78, 0.55])
    kw = dict(inside=np.arange(4), pair_cam=np.arange(4), pair_area=np.zeros(4, np.int64),
              klass=np.array(["dome"] * 4), box_m=np.full(4, 0.33), pairs=None, n_detections=np.ones(4),
              conf_max=conf, detection_conf=conf, n_images=300, false_rate=cal.false_rates())
    mixed = StripParts(**kw, real_share=cal.real_share())
    assert mixed.mixture() and not StripParts(**kw).mixture()
    q_mix, q_carry = mixed.reality(cal.curves()), StripParts(**kw).reality(cal.curves())
    assert q_mix.sum() > q_carry.sum() + 0.5 and (q_mix[:3] > 0.99).all()


def _learnt_parts(pi, conf, cal, n_img):
    from geo.counting.estimate import StripParts

    n = len(pi)
    return StripParts(inside=np.arange(n), pair_cam=np.arange(n), pair_area=np.zeros(n, np.int64),
                      klass=np.array(["dome"] * n), box_m=np.full(n, 0.33), pairs=None, n_detections=np.ones(n),
                      conf_max=conf, detection_conf=conf, n_images=n_img, false_rate=cal.false_rates(),
                      real_share=cal.real_share(), false_prior=cal.false_prior())


def test_a_surveys_own_singles_update_the_cards_false_rate():
    # the card's prior (its Gamma widened by the transfer) weighs a few hundred images in the low bins:
    # a large survey whose low bins hold fewer singles than the card expects learns a lower rate there
    from geo.counting.estimate import real_false_fit, reality_by_bin

    cal = _card()
    assert cal.false_level_sd() == pytest.approx(0.69)
    shape, images = cal.false_prior()
    assert shape[0] == pytest.approx(1 / (1 / 10.1 + 0.69 ** 2)) and images[0] < 600
    share, rate = cal.real_share(), cal.false_rates()
    few = np.array([4.0, 7.0, 25.0, 8.0, 0.0])  # 6,000 images: the card expects 20 + 6 false singles
    _, learnt = real_false_fit(few, rate * 6000, share, prior_images=images, n_images=6000)
    assert learnt[0] < 0.5 * rate[0] * 6000 and learnt[1] < 0.7 * rate[1] * 6000
    q_fixed = reality_by_bin(few, rate * 6000, share)
    q_learnt = reality_by_bin(few, rate * 6000, share, prior_images=images, n_images=6000)
    assert (q_learnt[:2] > q_fixed[:2] + 0.15).all()
    # a small survey barely moves it; a card without transfer weighs its own 3,000 images
    _, small = real_false_fit(np.array([0.0, 0.0, 4.0, 0.0, 0.0]), rate * 300, share, prior_images=images, n_images=300)
    assert small[0] == pytest.approx(rate[0] * 300 * images[0] / (images[0] + 300), rel=0.05)
    from geo.counting.calibration import calibration_from_dict

    tight = calibration_from_dict({**CARD, "false_transfer_sd": 0.0})
    assert tight.false_prior()[1] == pytest.approx(np.full(5, 3000.0))


@pytest.mark.slow
def test_with_the_rate_learnt_the_estimate_is_unbiased_and_its_variance_is_its_spread_over_surveys():
    # each survey's false rate drawn about the card's as its prior says (the card's Gamma times one
    # log-normal transfer shift): the estimate is the truth on average and found + reality + false-rate
    # terms state its spread
    from geo.counting.estimate import false_detection_variance, found_variance, reality_variance

    cal = _card()
    share, n_img, n_real = cal.real_share(), 3000, 40
    shape, rate = cal.false_rate_gamma()
    sd = cal.false_level_sd()
    rng = np.random.default_rng(4)
    pi_pop = rng.uniform(0.15, 0.8, n_real)
    errors, stated = [], []
    for _ in range(800):
        lam = rng.gamma(shape, 1.0 / rate) * np.exp(rng.normal(0.0, sd) - sd ** 2 / 2)
        found = rng.random(n_real) < pi_pop
        false_bin = np.repeat(np.arange(5), rng.poisson(lam * n_img))
        pi = np.r_[pi_pop[found], rng.choice(pi_pop, len(false_bin), p=pi_pop / pi_pop.sum())]
        conf = EDGES[np.r_[rng.choice(5, found.sum(), p=share), false_bin]] + 0.05
        parts = _learnt_parts(pi, conf, cal, n_img)
        q = parts.reality(cal.curves())
        errors.append((q / pi).sum() - n_real)
        stated.append(found_variance(parts, {"q": q, "pi": pi}, 1, curves=cal.curves())[0]
                      + reality_variance(parts, q, pi, cal.curves(), 1, fixed_totals=False)[0]
                      + false_detection_variance(parts, cal, cal.curves(), pi, 1)[0][0])
    errors = np.array(errors)
    assert abs(errors.mean()) < 3 * errors.std() / np.sqrt(len(errors)) + 0.02 * n_real, errors.mean()
    assert 0.8 < np.mean(stated) / errors.var() < 1.25, np.mean(stated) / errors.var()


def test_with_the_rate_learnt_a_card_that_transfers_high_costs_a_large_survey_less():
    # a 6,000-image survey whose detector makes 0.5x the card's false detections: the fixed card rate
    # takes too many singles for false, the learnt rate about half as many
    from geo.counting.estimate import reality_from_rate

    cal = _card()
    share, rate, n_img, n_real = cal.real_share(), cal.false_rates(), 6000, 60
    shape, images = cal.false_prior()
    rng = np.random.default_rng(5)
    pi_pop = rng.uniform(0.15, 0.8, n_real)
    fixed, learnt = [], []
    for _ in range(400):
        pi, conf, _ = _survey(rng, pi_pop, rate, share, n_img, false_scale=0.5)
        n = len(pi)
        fixed.append((reality_from_rate(np.ones(n), conf, rate * n_img, share, EDGES) / pi).sum() - n_real)
        learnt.append((reality_from_rate(np.ones(n), conf, rate * n_img, share, EDGES, prior_images=images,
                                         n_images=n_img) / pi).sum() - n_real)
    assert np.mean(fixed) < -0.04 * n_real and np.mean(learnt) > 0.6 * np.mean(fixed), (np.mean(fixed), np.mean(learnt))


def test_a_flagged_surveys_p_real_keeps_the_carry():
    # the real detections' spread over the confidence bins is the card's look's, like recall: where
    # card_check flags the survey (look_fits False) P(real) is the carry, else the mixture; a review never
    from dataclasses import replace

    from geo.counting.calibration import calibration_from_dict
    from geo.counting.estimate import mixture_for

    cal = _card()
    assert mixture_for(cal) and not mixture_for(replace(cal, look_fits=False))
    review = calibration_from_dict({**CARD, "source": "review"})
    assert not mixture_for(review)

"""Fixtures of the review tests: a small generated survey (built once, copied per test) and a
real threaded HTTP server around the review app."""

from __future__ import annotations

import shutil

import pytest

from tests.scripts.review.survey import make_review_survey


@pytest.fixture(scope="session")
def template_survey(tmp_path_factory):
    path = tmp_path_factory.mktemp("review-template") / "survey"
    make_review_survey(path)
    return path


@pytest.fixture
def survey(template_survey, tmp_path):
    path = tmp_path / "survey"
    shutil.copytree(template_survey, path)
    return path

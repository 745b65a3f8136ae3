"""The survey's orchestration: `camcensus survey` and the stage commands call into it.

- ``scripts.survey.options``: ``SurveyOptions`` and the survey.toml round trip;
- ``scripts.survey.stages``: each stage as one call (sample, fetch, detect, locate, estimate);
- ``scripts.survey.run.run_survey``: every stage in order, resumable;
- ``scripts.survey.report``: the summary printed at the end;
- ``scripts.survey_dir`` (beside this package, shared with the review): file names inside a survey directory.
"""

"""Street-level imagery for a survey's views.

``geo.imagery.fetch.fetch_survey`` is the fetch stage: the shared machinery (workers, rate
limit, retries, validation, cache, resumable table). A provider only knows its API:
``local``, ``gsv`` (Street View Static), ``mapillary`` (Graph API v4), chosen by
``geo.imagery.providers.provider_from_name``. ``panorama`` cuts perspective crops from
equirectangular panoramas; ``stanford`` rebuilds the Stanford dataset's images.
The ``simulated`` provider is ``geo.sim.survey.simulate_survey``.
"""

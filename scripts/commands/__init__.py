"""One module per `camcensus` command; each registers itself on `scripts.app.app`."""

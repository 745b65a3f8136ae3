"""The shared browser fixture itself: it renders a local page, logs and refuses requests that
would leave the machine, and collects console errors."""


def test_page_renders_and_logs_external_requests(page, tmp_path):
    html = tmp_path / "p.html"
    html.write_text("<!doctype html><h1 id=t>ok</h1>"
                    "<img src='https://tiles.example.org/1/2/3.png'>"
                    "<script>console.error('boom')</script>")
    page.goto(html.as_uri())
    page.wait_for_load_state("load")
    assert page.inner_text("#t") == "ok"
    assert page.external_requests == ["https://tiles.example.org/1/2/3.png"]
    assert any("boom" in text for text in page.console_errors)

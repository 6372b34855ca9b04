"""Scrapy's per-page log messages: built only when the crawl's log level shows them."""

from scrapy import Request
from scrapy.http import HtmlResponse

from crawler.logformatter import PageLogFormatter


def page() -> tuple[Request, HtmlResponse]:
    request = Request("http://127.0.0.1/privacy")
    return request, HtmlResponse(request.url, body=b"<p>Policy</p>", request=request)


def test_page_messages_are_skipped_above_debug():
    request, response = page()
    for level in ("WARNING", "INFO", 30):
        formatter = PageLogFormatter(level)
        assert formatter.crawled(request, response, None) is None
        assert formatter.scraped({"target": "t"}, response, None) is None


def test_page_messages_are_kept_at_debug():
    request, response = page()
    for level in ("DEBUG", 10):
        formatter = PageLogFormatter(level)
        assert "Crawled" in formatter.crawled(request, response, None)["msg"]
        assert "Scraped" in formatter.scraped({"target": "t"}, response, None)["msg"]

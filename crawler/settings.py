"""Scrapy settings for the policywatch crawler. Only settings live here."""

from scrapy.settings import default_settings

from monitor import pages

BOT_NAME = "policywatch"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

USER_AGENT = pages.USER_AGENT
ROBOTSTXT_OBEY = True

# Politeness: policy pages change a few times a year; there is never a reason to hurry a site.
# The limits are per site (two at a time, DOWNLOAD_DELAY apart, slower if the site slows); the
# global limit only lets many sites be fetched side by side while each one waits out its delay.
# Scrapy counts a request waiting out its site's delay as in flight: with 64, a watch list of
# small pages over many sites was held to ~150 pages/s by the delays alone (128: ~175). Each
# request in flight may hold a page: more would cost memory (256: ~220 pages/s, and +50 MB
# for a crawl of 10,000 large pages).
CONCURRENT_REQUESTS = 128
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 0.5
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.5
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0

DOWNLOAD_TIMEOUT = pages.DOWNLOAD_TIMEOUT  # a target's `timeout` overrides it per request
# Memory stays bounded whatever a server sends: a body announced or received beyond
# DOWNLOAD_MAXSIZE is dropped, and HttpCompressionMiddleware applies the same limit to the
# decompressed body (a gzip bomb stops at DOWNLOAD_MAXSIZE bytes). A short body with a longer
# Content-Length is a data loss error (DOWNLOAD_FAIL_ON_DATALOSS, on by default): retried.
DOWNLOAD_MAXSIZE = pages.DOWNLOAD_MAXSIZE
DOWNLOAD_WARNSIZE = 5 * 1024 * 1024
RETRY_ENABLED = True
RETRY_TIMES = 2  # timeouts, refused connections, data loss, 429, 500, 502, 503, 504
RETRY_AFTER_MAX_WAIT = 30  # seconds of Retry-After a crawl waits; a longer one is not retried
REDIRECT_MAX_TIMES = 10
# Every status reaches the spider (the store records 404 or 503 as the reason of a failed
# fetch), after redirects are followed and retries are spent.
HTTPERROR_ALLOW_ALL = True
ROBOTSTXT_KEEP_IN_STORE = True  # crawler.middlewares.CachedRobotsTxtMiddleware
DOWNLOADER_MIDDLEWARES = {
    "crawler.middlewares.FetchClockMiddleware": 50,
    "crawler.middlewares.RetryAfterMiddleware": 560,
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.middlewares.CachedRobotsTxtMiddleware": 100,
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "crawler.middlewares.HeadMetaRefreshMiddleware": 580,
}

# Every target is fetched each run; a policy page is never "already seen".
HTTPCACHE_ENABLED = False
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
# Scrapy 2.19 starts, by default, an HTTP server on localhost that runs the Python code sent to
# it (with a token written to a file in the user's profile). A crawl needs none of that.
REMOTE_CONTROL_ENABLED = False
# Both are off, and left out of Scrapy's base components: Scrapy imports every component it
# is given, even one set to None, only to find it off, and these two load aiohttp and
# tldextract, about 0.17 s of every crawl's start. Scrapy's other base components stay as
# its version ships them.
_left_out = {
    "scrapy.extensions.remote_control.RemoteControl",
    "scrapy.downloadermiddlewares.cookies.CookiesMiddleware",
}
EXTENSIONS_BASE = {k: v for k, v in default_settings.EXTENSIONS_BASE.items() if k not in _left_out}
DOWNLOADER_MIDDLEWARES_BASE = {
    k: v for k, v in default_settings.DOWNLOADER_MIDDLEWARES_BASE.items() if k not in _left_out
}
# Nothing reads Scrapy's crawl statistics (a crawl reports from the store): collecting them
# is a dozen calls per request on the reactor thread, through Scrapy's deprecation wrapper.
STATS_CLASS = "scrapy.statscollectors.DummyStatsCollector"
DOWNLOADER_STATS = False
LOG_LEVEL = "WARNING"
LOG_FORMATTER = "crawler.logformatter.PageLogFormatter"

ITEM_PIPELINES = {"crawler.pipelines.StorePipeline": 300}
# The spider yields one item per response and no request from a page's links: Scrapy's spider
# middlewares for the requests a spider yields (URL length, depth, meta copies) have nothing to
# do but wrap every response's output. (The Referer one stays: the redirect middlewares ask
# for it, and warn without it.)
SPIDER_MIDDLEWARES = {
    "scrapy.spidermiddlewares.urllength.UrlLengthMiddleware": None,
    "scrapy.spidermiddlewares.depth.DepthMiddleware": None,
    "scrapy.spidermiddlewares.metacopy.MetaCopyDetectionMiddleware": None,
}
# Items of one response processed at once. The spider yields one item per response, and
# Scrapy starts this many asyncio tasks per response whatever it yields: at the default of
# 100 that was a fifth of the crawl's own CPU time.
CONCURRENT_ITEMS = 1
# Scrapy's downloader-aware queue, in time that does not grow with the number of sites waiting
# (crawler/queues.py).
SCHEDULER_PRIORITY_QUEUE = "crawler.queues.IdleSitesFirstQueue"
# Bytes of responses waiting to be read before the downloader pauses (Scrapy: 5 MB). When
# reading is what holds a crawl back, the downloader then runs a few seconds ahead of it, and
# a page found changed, whose confirming fetch is due `confirm_delay` after its first, can
# often be fetched again at once (`StorePipeline.confirm_later`).
SCRAPER_SLOT_MAX_ACTIVE_SIZE = 20_000_000  # not for cluster workers (run_worker)

# Targets with `render = true` are loaded in the system's Chromium through scrapy-playwright
# (the spider installs its download handler and launch options only when a target renders).
# scrapy-playwright needs the asyncio reactor. Each render has a browser context of its own,
# closed after the page is read; at most PLAYWRIGHT_MAX_CONTEXTS pages render at once.
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
PLAYWRIGHT_BROWSER_TYPE = "chromium"
PLAYWRIGHT_MAX_CONTEXTS = 4
PLAYWRIGHT_MAX_PAGES_PER_CONTEXT = 1
PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT = DOWNLOAD_TIMEOUT * 1000
PLAYWRIGHT_ABORT_REQUEST = "monitor.render.needless_resource"

"""Scrapy settings for the policywatch crawler. Only settings live here."""

from monitor import pages

BOT_NAME = "policywatch"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

USER_AGENT = pages.USER_AGENT
ROBOTSTXT_OBEY = True

# Politeness: policy pages change a few times a year; there is never a reason to hurry a site.
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 0.5
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.5
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0

DOWNLOAD_TIMEOUT = pages.DOWNLOAD_TIMEOUT
DOWNLOAD_MAXSIZE = pages.DOWNLOAD_MAXSIZE
DOWNLOAD_WARNSIZE = 5 * 1024 * 1024
RETRY_ENABLED = True
RETRY_TIMES = 2
REDIRECT_MAX_TIMES = 10

# Every target is fetched each run; a policy page is never "already seen".
HTTPCACHE_ENABLED = False
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
LOG_LEVEL = "WARNING"

ITEM_PIPELINES = {"crawler.pipelines.StorePipeline": 300}

"""One spider per source; ``spiders()`` maps the source name (as in params.yaml) to its class.

Imported lazily so that ``crawl.spiders.base`` and friends load without every spider.
"""


def spiders() -> dict:
    from crawl.spiders.aic import AicSpider
    from crawl.spiders.cleveland import ClevelandSpider
    from crawl.spiders.commons import CommonsSpider
    from crawl.spiders.europeana import EuropeanaSpider
    from crawl.spiders.met import MetSpider
    from crawl.spiders.nga import NgaSpider
    from crawl.spiders.smithsonian import SmithsonianSpider
    from crawl.spiders.urls import UrlListSpider
    from crawl.spiders.wikidata import WikidataSpider

    return {spider.source: spider for spider in
            (MetSpider, AicSpider, ClevelandSpider, NgaSpider, CommonsSpider, UrlListSpider,
             WikidataSpider, SmithsonianSpider, EuropeanaSpider)}

"""Crawls spread over worker processes or machines through Redis (scrapy-redis), all
writing to one database: `crawl ctgov ... --redis URL` queues a crawl (``enqueue``),
`trialwatch worker` fetches what is queued (``worker``); ``queue`` holds the Redis keys and
``runs`` the queued run's row. Needs the ``redis`` extra."""

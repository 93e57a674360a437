"""Google Drive sync: the course's Drive folders kept in step with the knowledge base.

credentials.py reads a service account or an OAuth client (and does the first consent); client.py speaks
Drive v3 through google-api-python-client (retries, exports, downloads); store.py keeps the watched folders,
the synced files and the page tokens in the API server's database; sync.py crawls and follows changes,
sending files to the RAG server's materials API; queue.py runs syncs on request and on a schedule.
"""

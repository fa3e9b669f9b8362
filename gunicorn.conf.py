"""The production server's settings (`make serve`, the Docker image): gunicorn reads this file.

Each value can be overridden from the environment; see README, "Running in production".
"""

import multiprocessing
import os

wsgi_app = "config.wsgi:application"
bind = os.environ.get("BIND", "0.0.0.0:8000")
# Request handling is CPU-bound (pooling, JSON): about two workers per core.
workers = int(os.environ.get("WEB_CONCURRENCY", str(max(2, multiprocessing.cpu_count() * 2))))
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
worker_class = "gthread"
# Load the application once, before forking: workers share its memory pages.
preload_app = True
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then, at different moments, so that no leak grows without bound.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = max_requests // 10
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'

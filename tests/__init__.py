"""The test suite. It runs Footfall as a development instance, deliberately: unset, FOOTFALL_ENV
means production (app/config.py), which needs a real SECRET_KEY and PUBLIC_URL. The processes the
tests start (gunicorn, workers, the benchmarks' servers) inherit the setting."""
import os

os.environ.setdefault("FOOTFALL_ENV", "development")

"""What the ingest benchmark serves with gunicorn: the real app, built from the environment the
benchmark sets, plus /bench/hello, the cheapest request the same app can answer (the baseline)."""
from app import create_app

app = create_app()


@app.get("/bench/hello")
def hello():
    """Renders "hello"."""
    return "hello"

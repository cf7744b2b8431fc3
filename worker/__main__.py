"""`python -m worker`: one RQ worker serving every queue in priority order, with the scheduler."""
import argparse
import logging

from app.queues import PRIORITY, get_redis
from worker import FootfallWorker, get_app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m worker", description=__doc__)
    parser.add_argument("--burst", action="store_true", help="stop once the queues are empty")
    parser.add_argument("--no-scheduler", action="store_true",
                        help="do not run RQ's scheduler (delayed jobs and retries) in this worker")
    parser.add_argument("--queues", nargs="+", default=list(PRIORITY), help="queues to serve, most urgent first")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(levelname)s %(message)s")
    app = get_app()
    with app.app_context():
        worker = FootfallWorker(args.queues, connection=get_redis())
        worker.work(burst=args.burst, with_scheduler=not args.no_scheduler, logging_level="INFO")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

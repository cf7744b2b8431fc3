"""`python -m worker`: one RQ worker serving every queue in priority order, with the scheduler,
a thread enqueueing the periodic jobs when due (not in burst mode), and beside it the consumer
that stores page views from the beacon stream in batches."""
import argparse
import logging
import time

from redis.exceptions import RedisError
from sqlalchemy.orm import configure_mappers

from app.logs import configure_logging, configured_level
from app.queues import PRIORITY, get_redis
from worker import FootfallWorker, consumer, get_app, schedule


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m worker", description=__doc__)
    parser.add_argument("--burst", action="store_true",
                        help="stop once the queues are empty (and enqueue no periodic jobs)")
    parser.add_argument("--no-scheduler", action="store_true",
                        help="do not run RQ's scheduler (delayed jobs and retries) in this worker")
    parser.add_argument("--queues", nargs="+", default=list(PRIORITY),
                        help="queues to serve, most urgent first")
    parser.add_argument("--no-events", action="store_true",
                        help="do not drain the page-view stream in this worker")
    args = parser.parse_args(argv)
    configure_logging()  # inherited by the event consumer, forked below
    # Configure the ORM once, for both processes; then the consumer forks, before this process
    # opens any connection.
    configure_mappers()
    events_process = None if args.no_events else consumer.start(burst=args.burst)
    # (A thread, started once the consumer has forked.) Every worker but a burst one enqueues the
    # periodic jobs as they fall due; a key per period in Redis makes that once for all of them.
    periodic = None if args.burst else schedule.start(get_app().config["REDIS_URL"])
    try:
        with get_app().app_context():
            serve(args)
        if events_process is not None and args.burst:
            events_process.join()
    finally:
        if periodic is not None:
            periodic.stop()
        if events_process is not None:
            consumer.stop(events_process)
    return 0


def serve(args) -> None:
    """Run the RQ worker until it is asked to stop (SIGTERM, Ctrl-C) or, in burst mode, the queues are
    empty. RQ's worker quits when Redis goes away at the wrong moment (as a job ends, or while it
    starts): it is made again, once Redis answers, rather than leaving this process serving nothing."""
    while True:
        try:
            worker = FootfallWorker(args.queues, connection=get_redis())
            # RQ's per-job lines are INFO: shown only at LOG_LEVEL=info or debug.
            worker.work(burst=args.burst, with_scheduler=not args.no_scheduler,
                        logging_level=configured_level())
        except RedisError as error:
            log.warning("the worker lost Redis (%s); starting it again in a second", error)
        else:
            if args.burst or worker.asked_to_stop:
                return
            log.warning("the worker stopped by itself (see above); starting it again in a second")
        time.sleep(1)


log = logging.getLogger("worker")

if __name__ == "__main__":
    raise SystemExit(main())

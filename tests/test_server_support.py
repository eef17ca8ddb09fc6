"""The server's model worker outlives any one job."""

from __future__ import annotations


def test_a_job_that_kills_its_thread_fails_alone_and_the_worker_goes_on(tmp_path):
    """Even a BaseException from a job (SystemExit from some library) ends only that job: its
    stream gets a failure, the worker stays alive and runs the next job."""
    from scorecut.server.jobs import Done, Failed, JobQueue

    jobs = JobQueue(max_queue=2, device="cpu", model_dir=tmp_path)
    ran = []

    def run(job):
        ran.append(job.id)
        if len(ran) == 1:
            raise SystemExit(3)
        jobs._finish(job, "done", Done("analysis", "result"))

    jobs._run = run  # the worker calls this per job; the model itself is not the point here
    jobs.start(warm_model=None)
    try:
        first, _ = jobs.submit(object())
        failed = first.events.get(timeout=10)
        assert isinstance(failed, Failed) and isinstance(failed.error, Exception)
        assert "SystemExit" in str(failed.error)
        assert jobs.worker_alive
        second, _ = jobs.submit(object())
        assert second.events.get(timeout=10) == Done("analysis", "result")
    finally:
        jobs.shutdown()

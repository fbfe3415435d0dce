"""Two outrun.run() calls in one `outrun python` session, each interrupted
once: the second run's first Ctrl-C must cancel it (cleanup runs), not be
taken as the session's second Ctrl-C."""

import asyncio

import outrun


def one_run(name: str) -> None:
    async def main() -> None:
        try:
            print(f"READY-{name}", flush=True)
            await asyncio.sleep(60)
        finally:
            print(f"CLEANUP-{name}", flush=True)

    try:
        outrun.run(main)
    except KeyboardInterrupt:
        print(f"INTERRUPTED-{name}", flush=True)


one_run("1")
one_run("2")
print("DONE", flush=True)

"""Failures the program retrieved (tests/embed/test_output_host.py): argv[1]
says which.  A failure caught from future() belongs to the code that caught
it; one that is not caught fails the run once, through the program."""

import sys

import outrun
from outrun import Output

mode = sys.argv[1]

if mode == "caught":
    try:
        await outrun.process.run(["sh", "-c", "exit 3"]).future()
    except outrun.process.ProcessError:
        print("handled")
elif mode == "uncaught":
    await outrun.process.run(["sh", "-c", "exit 3"]).future()  # uncaught
elif mode == "nested":
    o = Output.from_input(1).apply(lambda v: {"name": Output.secret("s")})
    print(await Output.all(o).future(), await Output.all(o).is_secret())

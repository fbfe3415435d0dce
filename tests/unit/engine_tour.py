"""The engine end to end, in one process, under the real host: the host
suite runs this under valgrind and ASan.  up (creates, with a chain of
Outputs, a component, a blocking provider on the pool and a secret),
a no-op up, an edited up (update, replace, delete), preview, stack
output and destroy, against a real state file in a temporary folder.  It
asserts what each run did."""

import contextlib
import io
import json
import os
import sys
import tempfile

from outrun._engine import commands
from outrun._options import RunOptions

PROGRAM = '''
import os
import outrun
from outrun.dynamic import CreateResult, Resource, ResourceProvider, UpdateResult
from outrun.providers.random import RandomPassword, RandomString

EDIT = os.environ.get("TOUR_EDIT") == "1"


class Box(ResourceProvider):
    def create(self, props):
        return CreateResult("box-" + props["label"], dict(props, size=len(props["label"])))

    def update(self, _id, _olds, news):
        return UpdateResult(dict(news, size=len(news["label"])))


class Pair(outrun.ComponentResource):
    def __init__(self, name, opts=None):
        super().__init__("tour:index:Pair", name, None, opts)
        child = outrun.ResourceOptions(parent=self)
        self.left = RandomString(name + "-left", length=4, opts=child)
        self.right = RandomString(name + "-right", length=4, opts=child)
        self.register_outputs({"left": self.left.result})


first = RandomString("first", length=8 if not EDIT else 9)
chain = first
for i in range(20):
    chain = RandomString(f"link{i}", length=6, keepers={"prev": chain.result})
box = Resource(Box(), "box", {"label": chain.result.apply(lambda r: "b" + r[:2]) if not EDIT else "fixed", "size": None})
pair = Pair("pair")
if not EDIT:
    gone = RandomString("gone", length=3)
pw = RandomPassword("pw", length=12)
outrun.export("first", first.result)
outrun.export("size", box.size)
outrun.export("pw", pw.result)
'''


def run(argv):
    """Runs one command in this process; returns (exit code, JSON events)."""
    command, *rest = argv
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = commands.main(RunOptions(command=command, args=tuple(rest)))
    events = [json.loads(line) for line in out.getvalue().splitlines()
              if line.startswith("{")]
    return code, events


def summary(events):
    assert events[-1]["event"] == "summary", events[-1]
    return events[-1]


with tempfile.TemporaryDirectory() as project:
    with open(os.path.join(project, "__main__.py"), "w") as f:
        f.write(PROGRAM)
    os.environ["OUTRUN_CONFIG_PASSPHRASE"] = "tour"
    os.environ.pop("TOUR_EDIT", None)

    code, events = run(["up", "-C", project, "--json"])
    assert code == 0, events
    s = summary(events)
    # first + 20 links + box + pair component + 2 children + gone + pw
    assert s["counts"] == {"create": 27}, s
    assert s["outputs"]["pw"] == "[secret]"
    assert s["outputs"]["size"] == 3

    code, events = run(["up", "-C", project, "--json"])
    assert code == 0 and summary(events)["counts"] == {"same": 27}, events

    os.environ["TOUR_EDIT"] = "1"
    code, events = run(["preview", "-C", project, "--json"])
    assert code == 0, events
    planned = summary(events)["counts"]
    # first replaced, so its 20 chained links too; the box updated;
    # gone deleted.
    assert planned["replace"] == 21 and planned["update"] == 1, planned
    assert planned["delete"] == 1, planned

    code, events = run(["up", "-C", project, "--json"])
    assert code == 0, events
    done = summary(events)["counts"]
    assert done["replace"] == 21 and done["update"] == 1, done
    # The 21 old halves of the replacements, and gone.
    assert done["delete"] == 22, done

    code, events = run(["destroy", "-C", project, "--json", "--yes"])
    assert code == 0, events
    assert summary(events)["counts"] == {"delete": 26}, events

print("engine tour: ok", file=sys.stderr)

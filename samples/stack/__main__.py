"""A small stack: two random values, a file written by a provider defined
here, a configuration value with a default, and stack outputs.

    cd samples/stack
    export OUTRUN_CONFIG_PASSPHRASE=demo
    ../../build/outrun preview
    ../../build/outrun up
    ../../build/outrun config set greeting hi    # then up again: the file is updated
    ../../build/outrun stack output
    ../../build/outrun destroy --yes
"""

import os

import outrun
from outrun import dynamic
from outrun.providers.random import RandomPassword, RandomString

HERE = os.path.dirname(os.path.abspath(__file__))


class FileProvider(dynamic.ResourceProvider):
    """A text file.  The methods block (they touch the disk), so the engine
    runs them on a pool thread and records each operation in the state
    before it starts."""

    def diff(self, id_, olds, news):
        # A new path is a new file; new text is an update in place.
        return dynamic.DiffResult(
            changes=None, replaces=["path"] if olds["path"] != news["path"]
            else [])

    def create(self, props):
        self._write(props["path"], props["text"])
        return dynamic.CreateResult(props["path"],
                                    {**props, "size": len(props["text"])})

    def update(self, id_, olds, news):
        self._write(news["path"], news["text"])
        return dynamic.UpdateResult({**news, "size": len(news["text"])})

    def delete(self, id_, props):
        try:
            os.remove(id_)
        except FileNotFoundError:
            pass

    @staticmethod
    def _write(path, text):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)


class TextFile(dynamic.Resource):
    """A file at ``path`` holding ``text``; output ``size``."""

    def __init__(self, name, path, text, opts=None):
        super().__init__(FileProvider(), name,
                         {"path": path, "text": text, "size": None}, opts)


config = outrun.Config()
greeting = config.get("greeting", "hello")      # outrun config set greeting hi

suffix = RandomString("suffix", length=6, special=False, upper=False)
password = RandomPassword("password", length=20, min_special=2)

# The file's text waits for the random suffix: the graph orders the steps.
note = TextFile(
    "note",
    os.path.join(HERE, "out", "note.txt"),
    outrun.Output.concat(greeting, " from stack ", outrun.get_stack(), " (",
                         suffix.result, ")\n"))

outrun.export("suffix", suffix.result)
outrun.export("password", password.result)      # shown as [secret]
outrun.export("note_path", note.id)
outrun.export("note_size", note.size)

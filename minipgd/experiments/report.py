"""Result files that a rerun regenerates without losing the notes written under them.

An experiment writes its tables above `NOTES_MARKER`; whatever a person wrote
below the marker (the discussion, where the numbers came from) is carried over
unchanged when the experiment rewrites the file.
"""
import os

from ..nn.checkpoint import write_text_atomically

NOTES_MARKER = "<!-- notes: written by hand; a rerun of the experiment regenerates only what is above this line -->"


def write_report(path, generated):
    """Write `generated` to `path` atomically, followed by the notes below the marker of the file there now."""
    notes = ""
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            old = f.read()
        if NOTES_MARKER in old:
            notes = old[old.index(NOTES_MARKER):]
    text = generated if not notes else generated.rstrip("\n") + "\n\n" + notes
    write_text_atomically(path, text)

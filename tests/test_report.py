"""Result files keep their hand-written notes when an experiment regenerates them."""
from minipgd.experiments.report import NOTES_MARKER, write_report


def test_regenerating_keeps_the_notes_below_the_marker(tmp_path):
    path = tmp_path / "table.md"
    path.write_text(f"| old | table |\n\n{NOTES_MARKER}\nWhy the numbers look like this.\n")
    write_report(path, "| new | table |\n")
    assert path.read_text() == f"| new | table |\n\n{NOTES_MARKER}\nWhy the numbers look like this.\n"


def test_a_new_file_or_one_without_notes_is_just_the_table(tmp_path):
    path = tmp_path / "table.md"
    write_report(path, "| first |\n")
    assert path.read_text() == "| first |\n"
    write_report(path, "| second |\n")
    assert path.read_text() == "| second |\n"

"""Every function, class or constant the README's equation map names exists."""
import importlib
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def equation_map_names():
    text = README.read_text(encoding="utf-8")
    section = text.split("## Equation map", 1)[1].split("\n## ", 1)[0]
    return sorted(set(re.findall(r"`(minipgd(?:\.\w+)+)`", section)))


def resolve(dotted):
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            obj = getattr(obj, attribute)
        return obj
    raise ModuleNotFoundError(dotted)


def test_the_map_covers_every_equation():
    text = README.read_text(encoding="utf-8").split("## Equation map", 1)[1].split("\n## ", 1)[0]
    for ref in ["Eq. 1 ", "Eq. 2 ", "Eq. 3 ", "Eq. 4–6", "Eq. 7 ", "Eq. 8–9", "Eq. 10", "Eq. 11", "Eq. 12",
                "Eq. 13", "Eq. 14", "Eq. 15", "Alg. 1 l. 1 ", "Alg. 2 l. 5", "Table 3", "Table 4"]:
        assert f"| {ref}" in text, ref


def test_every_named_piece_of_code_exists():
    names = equation_map_names()
    assert len(names) > 20
    for name in names:
        resolve(name)  # raises if missing

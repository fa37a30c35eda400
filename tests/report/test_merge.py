"""Rebuild merges: human edits survive, adjacent edits never conflict, real conflicts are marked."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pmrecon.merge import END_MARKER, MID_MARKER, START_MARKER, merge_line, merge_rebuild

TABLE = """\
# Post-Mortem: x

| Heure | Événement | Action | Responsable |
|-------|-----------|--------|-------------|
| 10:40 | Début de l'incident | Description | |
| 10:44 | Première alerte | Notification reçue | [Nom] |
| HH:MM | Début investigation | Analyse des logs | [Nom] |
| 11:02 | Début mitigation | Application du fix | [Nom] |
| 11:10 | Résolution | Service restauré | [Nom] |

- Taux d'erreur max: 30,00 % (checkout, à 10:41)
- Latence max: [X ms]
"""


def edit(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def test_untouched_file_takes_the_new_text():
    new = edit(TABLE, "30,00 %", "45,00 %")
    assert merge_rebuild(TABLE, TABLE, new) == (new, 0)


def test_human_edit_and_pmrecon_change_on_adjacent_rows_both_kept():
    mine = edit(
        TABLE,
        "| 10:44 | Première alerte | Notification reçue | [Nom] |",
        "| 10:44 | Première alerte | Notification reçue | Alice |",
    )
    theirs = edit(TABLE, "| HH:MM | Début investigation", "| 10:50 | Début investigation")
    merged, conflicts = merge_rebuild(TABLE, mine, theirs)
    assert conflicts == 0
    assert "| 10:44 | Première alerte | Notification reçue | Alice |" in merged
    assert "| 10:50 | Début investigation | Analyse des logs | [Nom] |" in merged


def test_same_row_different_cells_merge_cell_by_cell():
    mine = edit(
        TABLE,
        "| 11:02 | Début mitigation | Application du fix | [Nom] |",
        "| 11:02 | Début mitigation | Application du fix | Bob (SRE) |",
    )
    theirs = edit(TABLE, "| 11:02 | Début mitigation |", "| 11:05 | Début mitigation |")
    merged, conflicts = merge_rebuild(TABLE, mine, theirs)
    assert conflicts == 0
    assert "| 11:05 | Début mitigation | Application du fix | Bob (SRE) |" in merged


def test_same_line_different_words_merge_word_by_word():
    mine = edit(TABLE, "(checkout, à 10:41)", "(checkout, à 10:41) — confirmé par Carol")
    theirs = edit(TABLE, "30,00 %", "45,00 %")
    merged, conflicts = merge_rebuild(TABLE, mine, theirs)
    assert conflicts == 0
    assert "- Taux d'erreur max: 45,00 % (checkout, à 10:41) — confirmé par Carol" in merged


def test_same_cell_changed_by_both_is_a_marked_conflict():
    mine = edit(TABLE, "| 10:40 | Début de l'incident |", "| 10:38 | Début de l'incident |")
    theirs = edit(TABLE, "| 10:40 | Début de l'incident |", "| 10:35 | Début de l'incident |")
    merged, conflicts = merge_rebuild(TABLE, mine, theirs)
    assert conflicts == 1
    lines = merged.split("\n")
    start = lines.index(START_MARKER)
    assert lines[start + 1].startswith("| 10:38 |")  # the human's version, kept whole
    assert lines[start + 2] == MID_MARKER
    assert lines[start + 3].startswith("| 10:35 |")
    assert lines[start + 4] == END_MARKER
    # Only that row is in conflict: the rest of the table is outside the markers.
    assert lines[start - 1].startswith("|---") and lines[start + 5].startswith("| 10:44 |")


def test_human_deleting_a_line_pmrecon_updates_is_a_conflict_not_a_loss():
    mine = edit(TABLE, "- Taux d'erreur max: 30,00 % (checkout, à 10:41)\n", "")
    theirs = edit(TABLE, "30,00 %", "45,00 %")
    merged, conflicts = merge_rebuild(TABLE, mine, theirs)
    assert conflicts == 1 and "45,00 %" in merged


def test_insertions_at_the_same_place_are_both_kept():
    anchor = "- Latence max: [X ms]\n"
    mine = edit(TABLE, anchor, anchor + "\nNotre analyse : le cache était froid.\n")
    theirs = edit(TABLE, anchor, anchor + "- Disponibilité durant l'incident: 99,1 %\n")
    merged, conflicts = merge_rebuild(TABLE, mine, theirs)
    assert conflicts == 0
    assert "Notre analyse : le cache était froid." in merged
    assert "- Disponibilité durant l'incident: 99,1 %" in merged
    assert merged.index("Disponibilité") < merged.index("Notre analyse")


def test_identical_changes_on_both_sides_appear_once():
    both = edit(TABLE, "[X ms]", "1 500 ms")
    assert merge_rebuild(TABLE, both, both) == (both, 0)


def test_no_base_keeps_every_human_line_and_marks_differences():
    mine = edit(TABLE, "Description", "Le disque était plein") + "\nParagraphe ajouté.\n"
    theirs = edit(TABLE, "30,00 %", "45,00 %")
    merged, conflicts = merge_rebuild(None, mine, theirs)
    assert "Paragraphe ajouté." in merged and "Le disque était plein" in merged
    assert conflicts >= 1 and "45,00 %" in merged


def test_crlf_file_merges_and_stays_crlf():
    mine = edit(TABLE, "[X ms]", "[X ms] (à vérifier)").replace("\n", "\r\n")
    theirs = edit(TABLE, "30,00 %", "45,00 %")
    merged, conflicts = merge_rebuild(TABLE, mine, theirs)
    assert conflicts == 0
    assert "45,00 %" in merged and "(à vérifier)" in merged
    assert merged.count("\r\n") == merged.count("\n")


def test_markers_left_unresolved_are_still_counted():
    mine = edit(TABLE, "| 10:40 |", "| 10:38 |")
    theirs = edit(TABLE, "| 10:40 |", "| 10:35 |")
    first, n = merge_rebuild(TABLE, mine, theirs)
    assert n == 1
    again, n2 = merge_rebuild(theirs, first, theirs)
    assert n2 == 1 and again == first


def test_merge_line_escaped_pipes_stay_inside_cells():
    base = r"| 10:40 | Erreur a \| b | [Nom] |"
    mine = r"| 10:40 | Erreur a \| b | Dana |"
    theirs = r"| 10:42 | Erreur a \| b | [Nom] |"
    assert merge_line(base, mine, theirs) == r"| 10:42 | Erreur a \| b | Dana |"


_line = st.text(alphabet="ab |xyz[]", min_size=0, max_size=12)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(_line, min_size=1, max_size=8),
    st.lists(st.tuples(st.integers(0, 8), st.text(alphabet="HUMAN ", min_size=1, max_size=6))),
    st.lists(st.tuples(st.integers(0, 8), _line)),
)
def test_no_human_line_is_ever_dropped(base_lines, human_inserts, pm_changes):
    base = "\n".join(base_lines) + "\n"
    mine_lines = list(base_lines)
    added = []
    for pos, text in human_inserts:
        line = f"@{text}@"  # cannot occur in pmrecon's lines
        mine_lines.insert(min(pos, len(mine_lines)), line)
        added.append(line)
    theirs_lines = list(base_lines)
    for pos, text in pm_changes:
        if theirs_lines:
            theirs_lines[pos % len(theirs_lines)] = text
    merged, _ = merge_rebuild(base, "\n".join(mine_lines) + "\n", "\n".join(theirs_lines) + "\n")
    for line in added:
        assert merged.count(line) >= added.count(line)

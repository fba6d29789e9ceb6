"""project(): deny by default, absent not null, list paths, per-item filters, paths reported."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from hub.privacy.project import UnknownPath, compile_projection, project


class Contact(BaseModel):
    name: str
    phone: str | None = None


class Goal(BaseModel):
    goal_id: str
    result_area: str | None = None
    description: str


class Result(BaseModel):
    area: str
    indicators: dict[str, float] | None = None


class Volume(BaseModel):
    volume: int


class Budget(BaseModel):
    budget_cents: int


class Plan(BaseModel):
    case_id: str
    team: Contact
    goals: list[Goal]
    results: tuple[Result, ...] = ()
    codes: list[str] = []
    scope: Volume | Budget | None = None


DATA = {
    "case_id": "C-1",
    "team": {"name": "Team Zuid", "phone": "038 000"},
    "goals": [
        {"goal_id": "G1", "result_area": "a", "description": "one"},
        {"goal_id": "G2", "description": "two"},
    ],
    "results": [{"area": "a", "indicators": {"x": 1.0}}],
    "codes": ["01", "02"],
    "scope": {"budget_cents": 100},
}


def test_only_listed_fields_survive_and_removed_ones_are_absent() -> None:
    """A projection keeps the listed paths; everything else is absent (not null)."""
    payload, disclosed, withheld = project(DATA, compile_projection(Plan, ["case_id", "team.name"]))
    assert payload == {"case_id": "C-1", "team": {"name": "Team Zuid"}}
    assert disclosed == ("case_id", "team.name")
    assert withheld == (
        "codes",
        "goals[].description",
        "goals[].goal_id",
        "goals[].result_area",
        "results[].area",
        "results[].indicators",
        "scope.budget_cents",
        "team.phone",
    )


def test_an_object_path_means_its_v1_leaves() -> None:
    """Naming an object compiles to the leaves v1 has below it."""
    assert compile_projection(Plan, ["team", "scope"]).paths == (
        "scope.budget_cents",
        "scope.volume",
        "team.name",
        "team.phone",
    )


def test_list_paths_project_every_item() -> None:
    """``goals[].goal_id`` keeps that field of every item."""
    payload, disclosed, _ = project(DATA, compile_projection(Plan, ["goals[].goal_id"]))
    assert payload == {"goals": [{"goal_id": "G1"}, {"goal_id": "G2"}]}
    assert disclosed == ("goals[].goal_id",)


def test_a_filter_drops_items_and_an_emptied_list_is_absent() -> None:
    """Items a filter rejects are withheld; a list left with none is absent."""
    fields = compile_projection(Plan, ["goals"])
    kept, disclosed, withheld = project(DATA, fields, {"goals": lambda g: "result_area" in g})
    assert kept == {"goals": [{"goal_id": "G1", "result_area": "a", "description": "one"}]}
    assert "goals[].goal_id" in disclosed
    assert "goals[].goal_id" in withheld  # some values of the path were not delivered
    none, _, _ = project(DATA, fields, {"goals": lambda g: False})
    assert none == {}


def test_a_mapping_delivered_whole_is_one_path() -> None:
    """Indicator names are data: the mapping is one leaf, its keys are never paths."""
    _, _, withheld = project(DATA, compile_projection(Plan, ["case_id"]))
    assert "results[].indicators" in withheld
    assert not any(p.startswith("results[].indicators.") for p in withheld)


def test_unknown_fields_in_the_data_are_dropped_and_reported_by_name() -> None:
    """A field v1 does not have (a later version's) is never delivered, even under 'all'."""
    data = {**DATA, "v2_extra": {"deep": 1}, "team": {**DATA["team"], "v2_note": "x"}}
    payload, _, withheld = project(data, compile_projection(Plan, None))
    assert "v2_extra" not in payload
    assert "v2_note" not in payload["team"]
    assert {"v2_extra", "team.v2_note"} <= set(withheld)


def test_all_minus_except_removes_whole_subtrees() -> None:
    """``exclude`` removes the named subtree from the compiled paths."""
    fields = compile_projection(Plan, None, exclude=["team", "goals[].description"])
    assert "team.name" not in fields.paths
    assert "goals[].description" not in fields.paths
    assert "goals[].goal_id" in fields.paths


@pytest.mark.parametrize(
    "path",
    ["nope", "team.nope", "goals.goal_id", "case_id[]", "team[].name", "case_id.x", "a b", ""],
)
def test_a_path_v1_does_not_have_is_refused(path: str) -> None:
    """Unknown names, ``[]`` on a non-list, a list walked without ``[]``: UnknownPath."""
    with pytest.raises(UnknownPath):
        compile_projection(Plan, [path])


def test_leaf_values_are_shared_not_copied() -> None:
    """A delivered leaf is the data's own value (nothing mutates either); the objects are new."""
    payload, _, _ = project(DATA, compile_projection(Plan, ["codes"]))
    assert payload["codes"] is DATA["codes"]
    assert payload is not DATA

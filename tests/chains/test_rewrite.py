"""A follow-up made standalone for retrieval: the model's rewrite, checked against the follow-up it rewrites."""

from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage

from chains.answer import clean_rewrite

HISTORY = [HumanMessage("Quantas séries por semana para hipertrofia?"), AIMessage("De 10 a 20 séries [1].")]
BOTH = "Quantas séries por semana para hipertrofia? E para iniciantes?"


def test_a_rewrite_that_keeps_the_follow_up_is_used():
    assert clean_rewrite('"Quantas séries por semana para iniciantes?"\n', HISTORY,
                         "E para iniciantes?") == "Quantas séries por semana para iniciantes?"
    assert clean_rewrite("Quanto carboidrato devo comer por dia?", HISTORY,
                         "E de carboidrato?") == "Quanto carboidrato devo comer por dia?"


def test_a_rewrite_that_loses_the_follow_up_gives_way_to_both_questions():
    # What the bundled 1.5B model wrote for this conversation: the previous question, "iniciantes" gone.
    assert clean_rewrite("Quantas séries por semana para hipertrofia?", HISTORY, "E para iniciantes?") == BOTH
    assert clean_rewrite("  ", HISTORY, "E para iniciantes?") == BOTH

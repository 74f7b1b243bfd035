"""A replayed click, for the lab pages' tests: what Streamlit does when another rerun
(the live fragment's timer) cuts a click's run short before the page starts."""

from __future__ import annotations


def replay_the_click_once(monkeypatch, owner, method: str, clicked) -> None:
    """Make ``owner.method`` (called by the clicked button's callback) ask, the first
    time, for a rerun carrying ``clicked``, the widget states of the click, trigger
    included (script_requests._coalesce_widget_states keeps a trigger the newer request
    lacks). The request waits for the callback to end, then stops the run before the
    page's body starts; the rerun delivers the click again."""
    from streamlit.runtime.scriptrunner import RerunData, get_script_run_ctx

    real, asked = getattr(owner, method), []

    def replaying(self, *args, **kwargs):
        if not asked:
            asked.append(True)
            get_script_run_ctx().script_requests.request_rerun(RerunData(widget_states=clicked))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(owner, method, replaying)

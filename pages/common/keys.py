"""Session-state keys, in one place: every key of the Train and Runs pages, and on the
Gallery and Conditional pages each key read or written anywhere besides its own widget
(a key named once, at its widget, is declared there).

The Train form's own fields take theirs from their declaration (gan_core.form.KEYS);
these are the rest: what the pages remember between script runs, and their buttons.
A key made per run or per choice is a function here, so its spelling lives here too.
"""

from __future__ import annotations


class Train:
    FORM = "_train_form"  # the form's values while another page is shown
    DEFAULT_SIGS = "_train_default_sigs"  # {key: what its put default depends on}
    PRESET_REQUEST = "train_preset_request"  # set by another page (the gallery's guided start) to fill the form on arrival
    PRESET_NOTE = "train_preset_note"
    UPLOAD = "train_upload"
    UPLOADS_CHECKED = "_train_uploads"  # {file id: saved upload or its error}
    G_LOSS_FIXED = "train_g_loss_fixed"
    START = "train_start"
    LAST_LAUNCH = "_train_last_launch"  # (config JSON, time): a double click starts one run
    WATCHED = "train_watched"
    WATCH_SELECT = "train_watch_select"
    STOP = "train_stop"
    RESUME = "train_resume"
    LOSS_CHART = "train_loss_chart"
    D_CHART = "train_d_chart"
    AUGMENT_CHART = "train_augment_chart"

    @staticmethod
    def preset(key: str) -> str:
        return f"train_preset_{key}"

    @staticmethod
    def grid(run_id: str) -> str:
        return f"train_grid_{run_id}"


class Runs:
    SELECTED = "runs_selected"  # the runs multiselect
    SIGNATURE = "runs_signature"  # (id, state) of every run when the page was drawn
    GROUP_PREF = "runs_group_pref"
    SMOOTHING = "runs_smoothing"
    LOG_Y = "runs_log_y"
    X_AXIS = "runs_x"
    SAMPLE_STEP = "runs_sample_step"
    SAMPLE_LATEST = "runs_sample_latest"  # the step slider follows the newest grid
    SAMPLE_MAX = "runs_sample_max"
    EXPERIMENT = "runs_experiment"
    CSV = "runs_csv"
    CMP_KIND = "cmp_kind"
    CMP_DATA = "cmp_data"
    CMP_STEPS = "cmp_steps"
    CMP_SIZE = "cmp_size"
    CMP_SEED = "cmp_seed"
    CMP_GO = "cmp_go"

    @staticmethod
    def group(groups: list[str]) -> str:
        # a new radio whenever the groups offered change, so a kept index never lands on another group
        return f"runs_group_{'|'.join(groups)}"

    @staticmethod
    def judge(run_id: str) -> str:
        return f"runs_judge_{run_id}"

    @staticmethod
    def stop(run_id: str) -> str:
        return f"stop_{run_id}"

    @staticmethod
    def resume(run_id: str) -> str:
        return f"resume_{run_id}"

    @staticmethod
    def zip(run_id: str) -> str:
        return f"zip_{run_id}"

    @staticmethod
    def delete_confirm(run_id: str) -> str:
        return f"delete_confirm_{run_id}"

    @staticmethod
    def delete(run_id: str) -> str:
        return f"delete_{run_id}"


class Gallery:
    CHECKPOINT = "gallery_ckpt"
    SEED = "gallery_seed"
    PICK = "gallery_pick"  # the sample shown large
    SMOOTH = "gallery_smooth"
    UPLOAD = "gallery_upload"
    UPLOAD_ERROR = "gallery_upload_error"

    @staticmethod
    def interp_seed(end: str) -> str:  # end: "a" (start) or "b" (end) of the interpolation
        return f"interp_seed_{end}"

    @staticmethod
    def interp_pick(end: str) -> str:
        return f"interp_{end}"


class Conditional:
    CHECKPOINT = "cond_ckpt"
    INDEX = "cond_index"  # the noise column the morph starts from

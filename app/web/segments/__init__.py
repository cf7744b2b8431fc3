"""Segments: the list, and the builder with its live count, preview and summary."""
from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from app.contacts import fields
from app.extensions import db
from app.segments import rules, service
from app.segments.rules import RuleError
from app.web import page_or_fragment, redirect_to, require_login
from app.web.segments import forms

bp = Blueprint("segments", __name__, url_prefix="/segments")


require_login(bp)


def _segment_or_404(segment_id: int):
    return service.get_segment(current_user.account_id, segment_id) or abort(404)


def _builder_context(tree: dict, segment=None, name: str = "", error=None) -> dict:
    """What the builder is drawn from: the tree, the account's names, and the choices of its rules."""
    return dict(tree=tree, segment=segment, name=name, error=error,
                names=service.choices(current_user.account_id), url_ops=rules.URL_OPS,
                count_ops=rules.COUNT_OPS, field_ops=rules.OPS_BY_TYPE, property_ops=rules.PROPERTY_OPS,
                contact_fields=fields.account_fields(current_user.account_id))


@bp.get("/")
def index():
    """Renders the list of segments with member counts and last evaluation."""
    return render_template("segments/index.html", segments=service.list_segments(current_user.account_id))


@bp.get("/new")
def new():
    """Renders the builder for a new segment."""
    return render_template("segments/edit.html", **_builder_context(forms.new_tree()))


@bp.get("/<int:segment_id>")
def edit(segment_id: int):
    """Renders the builder for a saved segment."""
    segment = _segment_or_404(segment_id)
    return render_template("segments/edit.html", **_builder_context(segment.rules, segment, segment.name))


@bp.post("/builder")
def builder():
    """Applies a builder action (add or remove a rule or group, change a rule's type); renders the builder."""
    tree = forms.apply_action(forms.tree_from_form(request.form), request.form.get("action", ""))
    response = make_response(render_template("segments/_builder.html", **_builder_context(tree)))
    response.headers["HX-Trigger"] = "builder-changed"
    return response


@bp.post("/preview")
def preview():
    """Renders the live count, summary and first contacts of the rules being edited."""
    try:
        result = service.preview(current_user.account_id, forms.tree_from_form(request.form))
    except RuleError as error:
        return render_template("segments/_preview.html", error=str(error), result=None)
    return render_template("segments/_preview.html", error=None, result=result)


def _save(segment=None):
    tree = forms.tree_from_form(request.form)
    name = request.form.get("name", "")
    try:
        saved = service.save(current_user.account_id, segment, name, tree)
    except service.SegmentError as error:
        db.session.rollback()
        return page_or_fragment("segments/edit.html", "segments/_form.html", 422,
                                **_builder_context(tree, segment, name, error))
    db.session.commit()
    flash(f"Segment “{saved.name}” saved; its members are being counted.", "success")
    return redirect_to(url_for("segments.index"))


@bp.post("/")
def create():
    """Saves a new segment; renders the builder with the errors when it cannot."""
    return _save()


@bp.post("/<int:segment_id>")
def update(segment_id: int):
    """Saves a segment; renders the builder with the errors when it cannot."""
    return _save(_segment_or_404(segment_id))


@bp.post("/<int:segment_id>/duplicate")
def duplicate(segment_id: int):
    """Duplicates a segment and renders the list."""
    copy = service.duplicate(_segment_or_404(segment_id))
    db.session.commit()
    flash(f"Created “{copy.name}”.", "success")
    return redirect(url_for("segments.index"))


@bp.post("/<int:segment_id>/rename")
def rename(segment_id: int):
    """Renames a segment; renders the list (with the error, if any)."""
    segment = _segment_or_404(segment_id)
    try:
        service.rename(segment, request.form.get("name", ""))
        db.session.commit()
    except service.SegmentError as error:
        db.session.rollback()
        flash(str(error), "error")
    return redirect(url_for("segments.index"))


@bp.post("/<int:segment_id>/delete")
def delete(segment_id: int):
    """Deletes a segment unless something uses it; renders the list with what happened."""
    segment = _segment_or_404(segment_id)
    try:
        service.delete(segment)
        db.session.commit()
        flash("Segment deleted.", "info")
    except service.SegmentError as error:
        db.session.rollback()
        flash(str(error), "error")
        return render_template("segments/index.html",
                               segments=service.list_segments(current_user.account_id)), 409
    return redirect(url_for("segments.index"))

"""Answering a survey, and the staff reports."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("surveys", __name__)

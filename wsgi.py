"""WSGI entry point: gunicorn 'wsgi:app'."""

from portal import create_app
from portal.warmup import warm_up_templates

app = create_app()
# Each gunicorn worker imports this module: its first pages find the templates compiled and catalogs read.
with app.app_context():
    warm_up_templates(app)

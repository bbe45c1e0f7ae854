"""The shop marks a redeemed store-credit code as used through the JSON API."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

from portal.audit import Actor
from portal.extensions import db
from portal.loyalty.spending import adjust_points, redeem_points
from tests.loyalty.conftest import make_shopper


def test_the_shop_marks_a_code_used_once(api: Any, client: Any) -> None:
    user = make_shopper()
    adjust_points(user.id, 500, reason="Gift", actor=Actor.system())
    code = redeem_points(user.id, 500, Actor.user(user.id, user.email)).code
    db.session.commit()
    document = client.get("/api/v1/openapi.json").json
    operation = document["paths"]["/loyalty/codes/{code}/used"]["post"]
    schema = {
        "components": document["components"],
        **operation["responses"]["200"]["content"]["application/json"]["schema"],
    }

    used = api.post(f"/loyalty/codes/{code}/used")
    assert used.status_code == 200
    assert not list(Draft202012Validator(schema).iter_errors(used.json))
    assert used.json["code_hint"] == code[-4:] and used.json["value"] == "5.00" and used.json["used_at"]
    again = api.post(f"/loyalty/codes/{code}/used")
    assert again.status_code == 409 and again.json["error"]["code"] == "code_used"
    assert api.post("/loyalty/codes/PTS-NOPE-NOPE-NOPE/used").json["error"]["code"] == "unknown_code"
    assert client.post(f"/api/v1/loyalty/codes/{code}/used").status_code == 401

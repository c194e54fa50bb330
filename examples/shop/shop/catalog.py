"""The catalog: its page, each product as JSON, and whether the warehouse has it in stock."""

from __future__ import annotations

import requests
from flask import Blueprint, current_app, render_template
from sqlalchemy import select

from shop.models import Product, db

bp = Blueprint("catalog", __name__)


@bp.get("/")
def index() -> str:
    products = db.session.scalars(select(Product).order_by(Product.id)).all()
    return render_template("catalog.html", products=products)


@bp.get("/products/<int:product_id>")
def product(product_id: int) -> dict[str, object]:
    return db.get_or_404(Product, product_id).to_dict()


@bp.get("/products/<int:product_id>/stock")
def stock(product_id: int) -> tuple[dict[str, object], int]:
    """The warehouse answers 200 when it has the product, 404 when not; anything else is its failure."""
    item = db.get_or_404(Product, product_id)
    try:
        answer = requests.get(current_app.config["WAREHOUSE_URL"], params={"product": item.id},
                              timeout=current_app.config["WAREHOUSE_TIMEOUT"])
    except requests.RequestException as err:
        return {"error": f"warehouse unreachable: {type(err).__name__}"}, 502
    if answer.status_code not in (200, 404):
        return {"error": f"warehouse answered {answer.status_code}"}, 502
    return {"product": item.id, "in_stock": answer.status_code == 200}, 200

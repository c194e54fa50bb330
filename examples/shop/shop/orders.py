"""Orders: placed with a JSON body, read back by id."""

from __future__ import annotations

from flask import Blueprint, request

from shop.models import Order, Product, db

bp = Blueprint("orders", __name__)


@bp.post("")
def place() -> tuple[dict[str, object], int]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return {"error": "expected a JSON object"}, 400
    product_id, quantity = data.get("product_id"), data.get("quantity", 1)
    if not isinstance(product_id, int) or not isinstance(quantity, int) or not 1 <= quantity <= 100:
        return {"error": "product_id: an integer; quantity: an integer from 1 to 100"}, 400
    product = db.get_or_404(Product, product_id)
    order = Order(product_id=product.id, quantity=quantity, total_cents=quantity * product.price_cents)
    db.session.add(order)
    db.session.commit()
    return order.to_dict(), 201


@bp.get("/<int:order_id>")
def show(order_id: int) -> dict[str, object]:
    return db.get_or_404(Order, order_id).to_dict()

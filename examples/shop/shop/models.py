"""The tables, and the catalog every fresh database starts with."""

from __future__ import annotations

from datetime import datetime, timezone

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import ForeignKey, String, exc, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class Product(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    price_cents: Mapped[int]

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "price_cents": self.price_cents}


class Order(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    quantity: Mapped[int]
    total_cents: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=lambda: datetime.now(timezone.utc))

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "product_id": self.product_id, "quantity": self.quantity,
                "total_cents": self.total_cents, "created_at": self.created_at.isoformat()}


CATALOG = [
    {"id": 1, "name": "Espresso cup", "price_cents": 900},
    {"id": 2, "name": "Milk jug", "price_cents": 1850},
    {"id": 3, "name": "Hand grinder", "price_cents": 6400},
    {"id": 4, "name": "Pour-over kettle", "price_cents": 4200},
    {"id": 5, "name": "Coffee scale", "price_cents": 2900},
]


def init_db() -> None:
    """Create the tables and the catalog, once.

    Every worker process of a server runs this as it starts, at the same time: the
    loser of a race to create a table or insert the catalog gets an error from the
    database, meaning another worker did it; it rolls back and goes on.
    """
    try:
        db.create_all()
        if not db.session.scalar(select(func.count()).select_from(Product)):
            db.session.add_all([Product(**p) for p in CATALOG])
            db.session.commit()
    except (exc.IntegrityError, exc.ProgrammingError):
        db.session.rollback()

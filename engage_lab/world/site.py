"""The site map of the generated shop: pages, their states, categories, titles and URLs.

A visitor moves between **states** (``STATES``): home, category, product, cart, the three
checkout steps, help, pricing and account. Each state has one or more pages; each page
belongs to one of the eight **page categories** of the truth model (``PAGE_CATEGORIES``:
the three checkout steps are all ``checkout``). Checkout steps and account sub-pages form
single-page-application sections (``spa_section``): moving within one is a page change.
Pages other than the cart and checkout carry the footer placeholder of the fixed button
``btn-help-footer``; ``/help/contact`` hosts
the embedded chat container (used in messaging mode).

>>> site = build_site("https://shop.example")
>>> len(site.paths) >= 30, site.paths[0], site.urls[0]
(True, '/', 'https://shop.example/')
>>> sorted(set(site.category_names)) == sorted(PAGE_CATEGORIES)
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "FIXED_HELP_BUTTON",
    "PAGE_CATEGORIES",
    "STATES",
    "Site",
    "build_site",
]

#: Navigation states of the page Markov chain (order fixes the parameter tables).
STATES: tuple[str, ...] = (
    "home",
    "category",
    "product",
    "cart",
    "checkout",
    "payment",
    "confirmation",
    "help",
    "pricing",
    "account",
)
HOME, CATEGORY, PRODUCT, CART, CHECKOUT, PAYMENT, CONFIRMATION, HELP, PRICING, ACCOUNT = range(10)

#: Page categories of the truth model (what an analyst segments by).
PAGE_CATEGORIES: tuple[str, ...] = (
    "home",
    "category",
    "product",
    "cart",
    "checkout",
    "help",
    "pricing",
    "account",
)
_STATE_CATEGORY = (0, 1, 2, 3, 4, 4, 4, 5, 6, 7)

#: The fixed button of the example configurations: its placeholder sits in the page
#: footer, which every page has except the cart and the checkout steps (their own layout).
FIXED_HELP_BUTTON = "btn-help-footer"

#: Shop categories and their products ``(slug, title, price in euros)``.
_CATALOG: tuple[tuple[str, str, tuple[tuple[str, str, float], ...]], ...] = (
    ("lighting", "Lighting", (
        ("brass-desk-lamp", "Brass desk lamp", 89.0),
        ("linen-pendant", "Linen pendant light", 129.0),
        ("reading-floor-lamp", "Reading floor lamp", 159.0),
        ("bulb-pack", "Warm LED bulbs (4-pack)", 19.9),
    )),
    ("furniture", "Furniture", (
        ("oak-side-table", "Oak side table", 149.0),
        ("velvet-armchair", "Velvet armchair", 449.0),
        ("wall-shelf", "Floating wall shelf", 59.0),
        ("bench-entree", "Entrée bench", 219.0),
    )),
    ("kitchen", "Kitchen", (
        ("cast-iron-pan", "Cast iron pan", 49.9),
        ("ceramic-bowls", "Ceramic bowls (set of 6)", 39.0),
        ("chef-knife", "Chef's knife", 79.0),
        ("creme-brulee-set", "Crème brûlée set", 29.9),
    )),
    ("textiles", "Textiles", (
        ("linen-throw", "Linen throw", 69.0),
        ("wool-rug", "Wool rug", 249.0),
        ("cotton-cushion", "Cotton cushion", 24.9),
        ("bath-towels", "Bath towels (set of 4)", 44.0),
    )),
    ("decor", "Décor", (
        ("stoneware-vase", "Stoneware vase", 34.0),
        ("round-mirror", "Round mirror", 119.0),
        ("wall-clock", "Wall clock", 54.0),
        ("scented-candle", "Scented candle", 18.5),
    )),
    ("garden", "Garden", (
        ("teak-chair", "Teak garden chair", 189.0),
        ("planter-trio", "Planter trio", 42.0),
        ("string-lights", "Outdoor string lights", 36.0),
        ("watering-can", "Watering can", 27.0),
    )),
)  # fmt: skip

_HELP_TOPICS: tuple[tuple[str, str], ...] = (
    ("shipping", "Shipping and delivery"),
    ("returns", "Returns and refunds"),
    ("payment", "Payment options"),
    ("warranty", "Warranty"),
    ("faq", "Frequently asked questions"),
    ("contact", "Contact us"),
)

_BRAND = "Maison Example"


@dataclass(frozen=True, slots=True)
class Site:
    """Page table as parallel arrays (one entry per page, index = page id).

    ``state`` is the navigation state, ``category`` the page category index into
    ``PAGE_CATEGORIES``, ``shop_category`` the product category (-1 elsewhere),
    ``price_cents`` the product price (0 elsewhere), ``spa_section`` the single-page
    application section (-1: none), ``placeholder`` whether the page carries the fixed help
    button placeholder, ``embedded`` whether it hosts the embedded container.
    """

    host: str
    paths: tuple[str, ...]
    urls: tuple[str, ...]
    titles: tuple[str, ...]
    state: np.ndarray
    category: np.ndarray
    shop_category: np.ndarray
    price_cents: np.ndarray
    spa_section: np.ndarray
    placeholder: np.ndarray
    embedded: np.ndarray
    #: Page ids by state: ``pages_of_state[s]`` (first = the state's entry page).
    pages_of_state: tuple[np.ndarray, ...]
    #: Product page ids by shop category: ``products[c]`` (popularity order).
    products: np.ndarray
    #: Category page id by shop category.
    category_pages: np.ndarray

    @property
    def category_names(self) -> tuple[str, ...]:
        """Page category name of every page."""
        return tuple(PAGE_CATEGORIES[c] for c in self.category)

    def __len__(self) -> int:
        return len(self.paths)


def build_site(host: str) -> Site:
    """Build the shop's site map on ``host`` (no trailing slash)."""
    rows: list[tuple[str, str, int, int, int, int, int]] = []

    # (path, title, state, shop category, price cents, spa section, embedded)
    def add(path: str, title: str, state: int, shop=-1, price=0, spa=-1, embedded=0) -> int:
        rows.append((path, title, state, shop, price, spa, embedded))
        return len(rows) - 1

    add("/", f"{_BRAND} – Home and living", HOME)
    category_pages = []
    products = []
    for c, (slug, name, items) in enumerate(_CATALOG):
        category_pages.append(add(f"/category/{slug}", f"{name} – {_BRAND}", CATEGORY, c))
        products.append(
            [
                add(f"/product/{p}", f"{title} – {_BRAND}", PRODUCT, c, round(price * 100))
                for p, title, price in items
            ]
        )
    add("/cart", f"Your cart – {_BRAND}", CART)
    add("/checkout", f"Checkout – {_BRAND}", CHECKOUT, spa=0)
    add("/checkout/payment", f"Payment – {_BRAND}", PAYMENT, spa=0)
    add("/checkout/confirmation", f"Order confirmed – {_BRAND}", CONFIRMATION, spa=0)
    add("/help", f"Help centre – {_BRAND}", HELP)
    for topic, title in _HELP_TOPICS:
        add(f"/help/{topic}", f"{title} – Help – {_BRAND}", HELP, embedded=int(topic == "contact"))
    add("/pricing", f"Membership plans – {_BRAND}", PRICING)
    add("/account", f"Your account – {_BRAND}", ACCOUNT, spa=1)
    add("/account/orders", f"Your orders – {_BRAND}", ACCOUNT, spa=1)
    add("/account/profile", f"Your profile – {_BRAND}", ACCOUNT, spa=1)

    state = np.array([r[2] for r in rows], dtype=np.int8)
    pages_of_state = tuple(np.flatnonzero(state == s) for s in range(len(STATES)))
    return Site(
        host=host,
        paths=tuple(r[0] for r in rows),
        urls=tuple(host + r[0] for r in rows),
        titles=tuple(r[1] for r in rows),
        state=state,
        category=np.array([_STATE_CATEGORY[r[2]] for r in rows], dtype=np.int8),
        shop_category=np.array([r[3] for r in rows], dtype=np.int8),
        price_cents=np.array([r[4] for r in rows], dtype=np.int64),
        spa_section=np.array([r[5] for r in rows], dtype=np.int8),
        placeholder=~np.isin(state, (CART, CHECKOUT, PAYMENT, CONFIRMATION)),
        embedded=np.array([r[6] for r in rows], dtype=bool),
        pages_of_state=pages_of_state,
        products=np.array(products, dtype=np.int64),
        category_pages=np.array(category_pages, dtype=np.int64),
    )

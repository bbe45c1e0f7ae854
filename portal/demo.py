"""Demo data for `flask --app wsgi portal seed --demo`: a small shop with ~50 orders in every state.

Everything goes through the domain services (accounts, orders), the same way the shop's systems push data in
through the API, so the demo fires the same signals and writes the same audit entries. There are three parts:

1. Data tables: the catalogue, places, customers' names, the carriers with their services and scan vocabulary,
   and the mix of order scenarios.
2. The plan (`PLAN`): a pure function of the random seed that decides every order, item, shipment and tracking
   event. Times are offsets *before* an anchor instant ("placed 3 days 4 hours ago"), so the plan itself does
   not depend on the clock, and order numbers follow the order in which the orders were placed.
3. Seeding (`seed_demo`): anchors the plan at `clock.now()` and upserts it. It flushes but never commits.

Re-running is idempotent: demo users that exist are skipped, orders and shipments are upserted with the same
data, tracking events have deterministic ids (``demo-<tracking number>-<n>``) so each is stored once, and the
anchor is recovered from the first demo order, so a later run reproduces exactly the same instants instead of
moving the orders away from the tracking events stored the first time.
"""

from __future__ import annotations

import math
import random
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import select

from portal import clock
from portal.accounts.models import User
from portal.accounts.service import create_user, normalise_email
from portal.audit import Actor
from portal.extensions import db
from portal.loyalty.demo import seed_loyalty_history
from portal.orders.models import Order
from portal.orders.service import (
    AddressData,
    ItemData,
    OrderData,
    ShipmentData,
    TrackingEventData,
    ingest_tracking_events,
    record_order_event,
    upsert_order,
    upsert_shipment,
)
from portal.returns.demo import seed_demo_return
from portal.surveys.demo import seed_survey_answers

SEED = 2026
CURRENCY = "EUR"
SHOP_TIMEZONE = ZoneInfo("Europe/Berlin")
ORDER_NUMBER_START = 1001

Gap = tuple[float, float]  # a range of hours, drawn uniformly
_T = TypeVar("_T")


def _words(text: str) -> tuple[str, ...]:
    """Split "Anna, de Vries" into ("Anna", "de Vries"): keeps long word lists in the tables readable."""
    return tuple(word.strip() for word in text.split(","))


def _sku_code(text: str) -> str:
    """The SKU form of a variant part: "EU 42" becomes "EU42", "Nav" becomes "NAV"."""
    return "".join(ch for ch in text.upper() if ch.isalnum())


# --- demo users ---------------------------------------------------------------------------------------------

DEMO_USERS: dict[str, tuple[str, str]] = {
    "shopper": ("shopper@example.com", "parcel-tracker-2026"),
    "agent": ("agent@example.com", "support-desk-2026"),
    "admin": ("admin@example.com", "backoffice-keys-2026"),
}
DEMO_USER_NAMES = {"shopper": "Mia Hoffmann", "agent": "Jan Kowalski", "admin": "Petra Lange"}

# --- catalogue ----------------------------------------------------------------------------------------------

SIZES = ("XS", "S", "M", "L", "XL")


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    price: Decimal
    sizes: tuple[str, ...] = ()
    colours: tuple[str, ...] = ()
    returnable: bool = True

    def variants(self) -> list[tuple[str, str | None]]:
        """(SKU, label) per colour and size, e.g. ("MER-CREW-NAV-M", "Navy / M"); one entry if neither."""
        result: list[tuple[str, str | None]] = []
        for colour in self.colours or ("",):
            for size in self.sizes or ("",):
                codes = [_sku_code(part) for part in (colour[:3], size) if part]
                sku = "-".join([self.sku, *codes])
                label = " / ".join(part for part in (colour, size) if part) or None
                result.append((sku, label))
        return result


CATALOGUE: tuple[Product, ...] = (
    Product("MER-CREW", "Merino Crew Sweater", Decimal("89.00"), SIZES, ("Navy", "Oat")),
    Product("TEE-ORG", "Organic Cotton T-Shirt", Decimal("29.00"), SIZES, ("White", "Sage")),
    Product(
        "JNS-SLV", "Selvedge Denim Jeans", Decimal("119.00"), ("W30 L32", "W32 L32", "W34 L34"), ("Indigo",)
    ),
    Product("JKT-SHL", "Waterproof Shell Jacket", Decimal("189.00"), SIZES, ("Olive", "Black")),
    Product(
        "SHO-TRL", "Trail Running Shoes", Decimal("139.00"), ("EU 38", "EU 40", "EU 42", "EU 44", "EU 46")
    ),
    Product("SHR-LIN", "Linen Shirt", Decimal("79.00"), SIZES, ("Sky Blue", "Sand")),
    Product("BAG-WKD", "Canvas Weekender Bag", Decimal("149.00"), colours=("Olive", "Sand")),
    Product("CRD-LTH", "Leather Card Holder", Decimal("45.00"), colours=("Cognac", "Black")),
    Product("BTL-750", "Insulated Steel Bottle 750 ml", Decimal("32.00"), colours=("Forest", "Steel")),
    Product("HAT-BNE", "Ribbed Wool Beanie", Decimal("29.00"), colours=("Rust", "Navy")),
    Product("SCK-WOL", "Wool Hiking Socks, 2 pairs", Decimal("24.00"), ("36-39", "40-43", "44-47")),
    Product("UMB-CMP", "Compact Umbrella", Decimal("39.00"), colours=("Black", "Yellow")),
    # Not returnable: underwear (hygiene), personalised goods and gift cards.
    Product("UND-BOX", "Cotton Boxer Briefs, 3-pack", Decimal("35.00"), SIZES, returnable=False),
    Product("BRA-SPT", "Seamless Sports Bra", Decimal("49.00"), ("XS", "S", "M", "L"), returnable=False),
    Product("NTB-PRS", "Personalised Notebook A5", Decimal("25.00"), returnable=False),
    Product("GFT-050", "Gift Card 50 EUR", Decimal("50.00"), returnable=False),
)
LINES_PER_ORDER = ((1, 45), (2, 32), (3, 17), (4, 6))  # (lines, weight)
FREE_SHIPPING_FROM = {True: Decimal("50.00"), False: Decimal("100.00")}  # domestic?
SHIPPING_FEE = {True: Decimal("4.95"), False: Decimal("9.95")}

# --- places -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    city: str
    region: str
    country: str
    lat: float
    lon: float
    postal_code: str = ""


WAREHOUSE = Place("Kassel", "Hessen", "DE", 51.3127, 9.4797, "34117")
ORIGIN_HUB = Place("Bad Hersfeld", "Hessen", "DE", 50.8683, 9.7069)

CUSTOMER_CITIES: tuple[Place, ...] = (
    Place("Berlin", "Berlin", "DE", 52.5200, 13.4050, "10115"),
    Place("Hamburg", "Hamburg", "DE", 53.5511, 9.9937, "20095"),
    Place("München", "Bayern", "DE", 48.1374, 11.5755, "80331"),
    Place("Köln", "Nordrhein-Westfalen", "DE", 50.9375, 6.9603, "50667"),
    Place("Frankfurt am Main", "Hessen", "DE", 50.1109, 8.6821, "60311"),
    Place("Stuttgart", "Baden-Württemberg", "DE", 48.7758, 9.1829, "70173"),
    Place("Düsseldorf", "Nordrhein-Westfalen", "DE", 51.2277, 6.7735, "40213"),
    Place("Leipzig", "Sachsen", "DE", 51.3397, 12.3731, "04109"),
    Place("Dresden", "Sachsen", "DE", 51.0504, 13.7373, "01067"),
    Place("Hannover", "Niedersachsen", "DE", 52.3759, 9.7320, "30159"),
    Place("Nürnberg", "Bayern", "DE", 49.4521, 11.0767, "90402"),
    Place("Bremen", "Bremen", "DE", 53.0793, 8.8017, "28195"),
    Place("Freiburg im Breisgau", "Baden-Württemberg", "DE", 47.9990, 7.8421, "79098"),
    Place("Münster", "Nordrhein-Westfalen", "DE", 51.9607, 7.6261, "48143"),
    Place("Mainz", "Rheinland-Pfalz", "DE", 49.9929, 8.2473, "55116"),
    Place("Kiel", "Schleswig-Holstein", "DE", 54.3233, 10.1228, "24103"),
    Place("Erfurt", "Thüringen", "DE", 50.9848, 11.0299, "99084"),
    Place("Heidelberg", "Baden-Württemberg", "DE", 49.3988, 8.6724, "69117"),
    Place("Regensburg", "Bayern", "DE", 49.0134, 12.1016, "93047"),
    Place("Rostock", "Mecklenburg-Vorpommern", "DE", 54.0924, 12.0991, "18055"),
    Place("Wien", "Wien", "AT", 48.2082, 16.3738, "1010"),
    Place("Graz", "Steiermark", "AT", 47.0707, 15.4395, "8010"),
    Place("Amsterdam", "Noord-Holland", "NL", 52.3676, 4.9041, "1012 AB"),
    Place("Utrecht", "Utrecht", "NL", 52.0907, 5.1214, "3511 AA"),
    Place("Paris", "Île-de-France", "FR", 48.8566, 2.3522, "75003"),
    Place("Lyon", "Auvergne-Rhône-Alpes", "FR", 45.7640, 4.8357, "69002"),
    Place("Bruxelles", "Bruxelles-Capitale", "BE", 50.8503, 4.3517, "1000"),
    Place("Madrid", "Comunidad de Madrid", "ES", 40.4168, -3.7038, "28013"),
    Place("Milano", "Lombardia", "IT", 45.4642, 9.1900, "20121"),
    Place("København", "Hovedstaden", "DK", 55.6761, 12.5683, "1050"),
)
DOMESTIC_SHARE = 0.75

# Parcel centres; a parcel goes through the one nearest its destination (in the destination's country).
HUBS: tuple[Place, ...] = (
    Place("Hamburg", "Hamburg", "DE", 53.4880, 10.1530),
    Place("Ludwigsfelde", "Brandenburg", "DE", 52.2967, 13.2567),
    Place("Radefeld", "Sachsen", "DE", 51.4268, 12.2599),
    Place("Hannover", "Niedersachsen", "DE", 52.4226, 9.6892),
    Place("Dortmund", "Nordrhein-Westfalen", "DE", 51.5136, 7.4653),
    Place("Köln", "Nordrhein-Westfalen", "DE", 50.9101, 7.0543),
    Place("Obertshausen", "Hessen", "DE", 50.0717, 8.8483),
    Place("Feucht", "Bayern", "DE", 49.3757, 11.2133),
    Place("Köngen", "Baden-Württemberg", "DE", 48.6825, 9.3659),
    Place("Aschheim", "Bayern", "DE", 48.1717, 11.7164),
    Place("Wien", "Wien", "AT", 48.1667, 16.3333),
    Place("Nieuwegein", "Utrecht", "NL", 52.0292, 5.0917),
    Place("Roissy-en-France", "Île-de-France", "FR", 49.0036, 2.5164),
    Place("Mechelen", "Antwerpen", "BE", 51.0259, 4.4776),
    Place("Getafe", "Comunidad de Madrid", "ES", 40.3083, -3.7329),
    Place("Lodi", "Lombardia", "IT", 45.3142, 9.5036),
    Place("Brøndby", "Hovedstaden", "DK", 55.6483, 12.4183),
)

# --- customers ----------------------------------------------------------------------------------------------

GERMAN_FIRST_NAMES = _words(
    "Anna, Lukas, Sophie, Felix, Marie, Jonas, Paul, Hannah, Leon, Emma, Noah, Clara, Elias, Julia, Finn, "
    "Laura, Max, Katharina, Tobias, Ayşe, Mehmet, Zofia, Nele"
)
GERMAN_LAST_NAMES = _words(
    "Müller, Schmidt, Schneider, Fischer, Weber, Meyer, Wagner, Becker, Schulz, Koch, Richter, Klein, Wolf, "
    "Neumann, Schwarz, Braun, Zimmermann, Krüger, Yılmaz, Nowak, Demir"
)
NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {  # (first names, last names) by country
    "DE": (GERMAN_FIRST_NAMES, GERMAN_LAST_NAMES),
    "AT": (
        _words("Lukas, Anna, David, Sarah, Florian, Magdalena"),
        _words("Gruber, Huber, Bauer, Pichler, Moser"),
    ),
    "NL": (
        _words("Daan, Sanne, Bram, Fleur, Jesse, Lotte"),
        _words("de Vries, Jansen, Bakker, Visser, de Boer"),
    ),
    "FR": (
        _words("Camille, Louis, Chloé, Hugo, Manon, Théo"),
        _words("Martin, Bernard, Dubois, Lefèvre, Moreau"),
    ),
    "BE": (_words("Lucas, Emma, Arthur, Louise"), _words("Peeters, Janssens, Maes, Dubois")),
    "ES": (_words("Lucía, Pablo, Carmen, Javier"), _words("García, Fernández, López, Martínez")),
    "IT": (_words("Giulia, Marco, Francesca, Luca"), _words("Rossi, Bianchi, Romano, Colombo")),
    "DK": (_words("Freja, Mads, Ida, Emil"), _words("Jensen, Nielsen, Hansen, Pedersen")),
}
STREETS: dict[str, tuple[str, ...]] = {
    "DE": _words(
        "Hauptstraße, Bahnhofstraße, Lindenallee, Schillerstraße, Goethestraße, Gartenstraße, Bergstraße, "
        "Am Marktplatz, Rosenweg, Kastanienallee"
    ),
    "AT": _words("Hauptplatz, Mariahilfer Straße, Lindengasse, Schubertgasse"),
    "NL": _words("Kerkstraat, Molenweg, Dorpsstraat, Stationsweg, Prinsengracht"),
    "FR": _words("rue de la République, avenue Victor Hugo, rue des Lilas, boulevard Voltaire"),
    "BE": _words("Rue Royale, Avenue Louise, Rue du Midi"),
    "ES": _words("Calle Mayor, Calle de Alcalá, Calle del Prado"),
    "IT": _words("Via Roma, Via Garibaldi, Corso Venezia"),
    "DK": _words("Nørregade, Vesterbrogade, Østerbrogade"),
}
SECOND_LINES = ("2. OG", "Hinterhaus", "3. OG links", "Gartenhaus")
LOCALES = {"DE": "de", "AT": "de", "FR": "fr", "BE": "fr", "ES": "es"}  # everyone else reads English
RETURNING_CUSTOMER_SHARE = 0.1


@dataclass(frozen=True)
class Customer:
    name: str
    email: str
    place: Place
    line1: str
    locale: str
    line2: str | None = None

    def address(self) -> AddressData:
        place = self.place
        return AddressData(
            name=self.name,
            line1=self.line1,
            line2=self.line2,
            city=place.city,
            postal_code=place.postal_code,
            region=place.region,
            country=place.country,
        )


SHOPPER = Customer(
    DEMO_USER_NAMES["shopper"],
    DEMO_USERS["shopper"][0],
    CUSTOMER_CITIES[0],
    "Oranienstraße 25",
    "en",
    "Seitenflügel, 2. OG",
)
# The guest lookup pair printed by `seed --demo`: an order without an account, in transit.
GUEST = Customer("Lena Vogt", "lena.vogt@example.com", CUSTOMER_CITIES[1], "Lindenallee 12", "de")

# --- carriers -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Service:
    name: str
    international: bool
    transit_days: tuple[int, int]  # promised delivery window, in days after shipping
    weight: int


@dataclass(frozen=True)
class Carrier:
    name: str
    weight: int  # how often the shop picks this carrier
    services: tuple[Service, ...]


CARRIERS: tuple[Carrier, ...] = (
    Carrier("DHL", 40, (Service("Paket", False, (1, 2), 1), Service("Paket International", True, (2, 4), 1))),
    Carrier(
        "DPD",
        25,
        (
            Service("Classic", False, (1, 2), 4),
            Service("Express", False, (1, 1), 1),
            Service("Classic", True, (2, 4), 1),
        ),
    ),
    Carrier(
        "UPS",
        15,
        (
            Service("Standard", False, (1, 2), 3),
            Service("Express Saver", False, (1, 1), 1),
            Service("Standard", True, (2, 3), 3),
            Service("Express Saver", True, (1, 2), 1),
        ),
    ),
    Carrier("Hermes", 20, (Service("Paket", False, (2, 3), 1),)),
)

# Canonical status of every stage of a parcel's journey.
STAGE_STATUS: dict[str, str] = {
    "announced": "info_received",
    "picked_up": "in_transit",
    "origin_hub": "in_transit",
    "departed": "in_transit",
    "export": "in_transit",
    "import": "in_transit",
    "destination_hub": "in_transit",
    "depot": "in_transit",
    "out_for_delivery": "out_for_delivery",
    "delivered": "delivered",
    "delivered_neighbour": "delivered",
    "collected": "delivered",
    "not_home": "failed_attempt",
    "pickup_point": "available_for_pickup",
    "damaged": "exception",
    "delayed": "exception",
    "address_problem": "exception",
    "return_started": "returned_to_sender",
    "returned": "returned_to_sender",
}

# What each carrier reports for each stage: (raw status code, description).
SCANS: dict[str, dict[str, tuple[str, str]]] = {
    "DHL": {
        "announced": (
            "ULFMV",
            "The instruction data for this shipment have been provided by the sender to DHL electronically.",
        ),
        "picked_up": ("PCKDU", "The shipment has been picked up."),
        "origin_hub": ("SRTED", "The shipment has been processed in the parcel center of origin."),
        "departed": (
            "LDTMV",
            "The shipment has been loaded and is on its way to the destination parcel center.",
        ),
        "export": ("EXPRT", "The shipment has been processed in the export parcel center."),
        "import": ("IMPRT", "The shipment has arrived in the destination country."),
        "destination_hub": ("SRTED", "The shipment has been processed in the destination parcel center."),
        "depot": ("ARRIV", "The shipment has arrived at the delivery base."),
        "out_for_delivery": ("LDTDV", "The shipment has been loaded onto the delivery vehicle."),
        "delivered": ("DLVRD", "The shipment has been successfully delivered."),
        "delivered_neighbour": ("DLVNB", "The shipment has been delivered to a neighbour."),
        "collected": ("PCKRC", "The recipient has picked up the shipment from the retail outlet."),
        "not_home": ("NTDEL", "The recipient was not at home. A notification card has been left."),
        "pickup_point": ("PCKST", "The shipment is ready for pick-up at the retail outlet."),
        "damaged": ("DAMGD", "The shipment was damaged and is being repackaged."),
        "delayed": ("DELAY", "Due to high shipment volumes, delivery will be delayed by one working day."),
        "address_problem": ("ADDRS", "The address is incomplete. The shipment cannot be delivered."),
        "return_started": ("RTSND", "The shipment was not picked up and is being returned to the sender."),
        "returned": ("RTDLV", "The shipment has been delivered back to the sender."),
    },
    "DPD": {
        "announced": ("DATA_RECEIVED", "Order information has been transmitted to DPD."),
        "picked_up": ("PICKED_UP", "The parcel has been collected from the sender."),
        "origin_hub": ("AT_SENDING_DEPOT", "In transit: the parcel is at the parcel centre."),
        "departed": ("ON_THE_ROAD", "The parcel has left the parcel centre."),
        "export": ("ON_THE_ROAD", "The parcel is on its way to the destination country."),
        "import": ("AT_HUB", "The parcel has arrived in the destination country."),
        "destination_hub": ("AT_HUB", "The parcel is at the hub."),
        "depot": ("AT_DELIVERY_DEPOT", "At parcel delivery centre."),
        "out_for_delivery": (
            "OUT_FOR_DELIVERY",
            "Out for delivery: expect your parcel in your Predict time slot.",
        ),
        "delivered": ("DELIVERED", "Delivered."),
        "delivered_neighbour": ("DELIVERED_NEIGHBOUR", "Delivered to a neighbour."),
        "collected": ("COLLECTED", "The parcel has been collected from the DPD Pickup parcelshop."),
        "not_home": ("NOT_DELIVERED", "We could not deliver your parcel: the recipient was not at home."),
        "pickup_point": ("AT_PARCELSHOP", "The parcel is ready for collection at the DPD Pickup parcelshop."),
        "damaged": ("DAMAGED", "The parcel was damaged in transit and is being checked."),
        "delayed": ("DELAYED", "Delay in transit for operational reasons."),
        "address_problem": ("ADDRESS_ERROR", "Delivery not possible: the address is incorrect."),
        "return_started": ("RETURN_TO_SENDER", "The parcel is being returned to the sender."),
        "returned": ("RETURNED", "The parcel has been returned to the sender."),
    },
    "UPS": {
        "announced": ("M:MP", "Shipper created a label, UPS has not received the package yet."),
        "picked_up": ("P:OR", "Pickup Scan"),
        "origin_hub": ("I:AR", "Arrived at Facility"),
        "departed": ("I:DP", "Departed from Facility"),
        "export": ("I:EP", "Export Scan"),
        "import": ("I:IP", "Import Scan"),
        "destination_hub": ("I:AR", "Arrived at Facility"),
        "depot": ("I:DS", "Destination Scan"),
        "out_for_delivery": ("I:OT", "Out For Delivery Today"),
        "delivered": ("D:KB", "Delivered"),
        "delivered_neighbour": ("D:KN", "Delivered: left with a neighbour"),
        "collected": ("D:KP", "Picked up by the customer at the UPS Access Point"),
        "not_home": (
            "X:48",
            "The receiver was not available for delivery. We'll make a second attempt the next business day.",
        ),
        "pickup_point": ("I:ZP", "Delivered to UPS Access Point and awaiting customer pickup."),
        "damaged": ("X:UD", "Damage reported. The package will be repacked and forwarded."),
        "delayed": (
            "X:WD",
            "A weather-related delay has occurred; the package will be delivered as soon as possible.",
        ),
        "address_problem": ("X:AB", "The address is incomplete. We're attempting to update it."),
        "return_started": ("X:RS", "The package was not collected and is being returned to the sender."),
        "returned": ("D:RT", "Returned to shipper"),
    },
    "Hermes": {
        "announced": ("1000", "The parcel has been announced to Hermes electronically."),
        "picked_up": ("1400", "The parcel has been handed over to Hermes."),
        "origin_hub": ("2000", "The parcel has been sorted at the Hermes logistics centre."),
        "departed": ("2100", "The parcel is on its way to the delivery region."),
        "export": ("2150", "The parcel has left Germany."),
        "import": ("2160", "The parcel has arrived in the destination country."),
        "destination_hub": ("2200", "The parcel has reached the logistics centre of the delivery region."),
        "depot": ("2400", "The parcel has arrived at the Hermes depot."),
        "out_for_delivery": ("3000", "The parcel is on its way to you and will be delivered today."),
        "delivered": ("3500", "The parcel has been delivered."),
        "delivered_neighbour": ("3510", "The parcel has been delivered to a neighbour."),
        "collected": ("3800", "The parcel has been collected from the Hermes PaketShop."),
        "not_home": ("3300", "First delivery attempt unsuccessful: the recipient was not at home."),
        "pickup_point": ("3700", "The parcel is ready for collection at the Hermes PaketShop."),
        "damaged": ("5100", "The parcel was damaged in transit and is being repacked."),
        "delayed": (
            "5300",
            "Delivery is delayed. We are working to deliver your parcel as soon as possible.",
        ),
        "address_problem": ("5200", "The address could not be found."),
        "return_started": ("6000", "The parcel was not collected and is on its way back to the sender."),
        "returned": ("6500", "The parcel has been returned to the sender."),
    },
}

# --- journeys -----------------------------------------------------------------------------------------------
# Each step is (stage, hours since the previous step); the first step's gap is ignored.

DOMESTIC_ROUTE: tuple[tuple[str, Gap], ...] = (
    ("announced", (0, 0)),
    ("picked_up", (2, 7)),
    ("origin_hub", (1, 4)),
    ("departed", (0.5, 2.5)),
    ("destination_hub", (4, 9)),
    ("depot", (2, 5)),
)
INTERNATIONAL_ROUTE: tuple[tuple[str, Gap], ...] = (
    ("announced", (0, 0)),
    ("picked_up", (2, 7)),
    ("origin_hub", (1, 4)),
    ("export", (4, 10)),
    ("import", (10, 30)),
    ("depot", (3, 8)),
)
OUT: tuple[str, Gap] = ("out_for_delivery", (3, 8))
NOT_HOME: tuple[str, Gap] = ("not_home", (1, 6))
AT_PICKUP_POINT: tuple[str, Gap] = ("pickup_point", (1, 4))
RETURNED: tuple[str, Gap] = ("returned", (20, 50))

# What happens after the parcel reaches the delivery depot, by outcome.
ENDINGS: dict[str, tuple[tuple[str, Gap], ...]] = {
    "out": (OUT,),
    "delivered": (OUT, ("delivered", (1, 7))),
    "delivered_neighbour": (OUT, ("delivered_neighbour", (1, 7))),
    "redelivered": (OUT, NOT_HOME, ("out_for_delivery", (16, 22)), ("delivered", (1, 6))),
    "collected": (OUT, NOT_HOME, AT_PICKUP_POINT, ("collected", (5, 70))),
    "failed": (OUT, NOT_HOME),
    "pickup": (OUT, NOT_HOME, AT_PICKUP_POINT),
    "address_problem": (OUT, ("address_problem", (1, 5))),
    "not_collected": (OUT, NOT_HOME, AT_PICKUP_POINT, ("return_started", (168, 172)), RETURNED),
    "undeliverable": (OUT, ("address_problem", (1, 5)), ("return_started", (18, 30)), RETURNED),
}
# Outcomes with several realistic variants: (variant, weight).
VARIANTS: dict[str, tuple[tuple[str, int], ...]] = {
    "delivered": (("delivered", 60), ("delivered_neighbour", 15), ("redelivered", 10), ("collected", 15)),
    "exception": (("damaged", 1), ("delayed", 1), ("address_problem", 1)),
    "returned": (("not_collected", 2), ("undeliverable", 1)),
}
HUB_INCIDENTS: dict[str, Gap] = {"damaged": (2, 8), "delayed": (3, 12)}  # exceptions raised at a hub

# --- the order mix ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """How far an order got.

    An order that never shipped is timed from its placement, `placed` hours ago, each later step some hours
    after the one before. A shipped order is timed backwards from each shipment's latest tracking event:
    `shipments` holds (outcome, hours ago of that latest event).
    """

    shipments: tuple[tuple[str, Gap], ...] = ()
    placed: Gap = (0, 0)
    paid_after: Gap | None = None
    fulfilled_after: Gap | None = None
    cancelled_after: Gap | None = None


SCENARIOS: dict[str, Scenario] = {
    "placed": Scenario(placed=(0.3, 60)),
    "paid": Scenario(placed=(1, 30), paid_after=(0.02, 0.4)),
    "fulfilled": Scenario(placed=(6, 40), paid_after=(0.02, 0.4), fulfilled_after=(2, 5)),
    "cancelled_unpaid": Scenario(placed=(150, 700), cancelled_after=(72, 120)),
    "cancelled_by_customer": Scenario(placed=(30, 500), paid_after=(0.02, 0.3), cancelled_after=(0.5, 6)),
    "cancelled_out_of_stock": Scenario(placed=(60, 600), paid_after=(0.02, 0.3), cancelled_after=(20, 40)),
    "label_created": Scenario(shipments=(("label", (1, 10)),)),
    "in_transit": Scenario(shipments=(("transit", (1, 16)),)),
    "out_for_delivery": Scenario(shipments=(("out", (0.5, 5)),)),
    "delivered_recently": Scenario(shipments=(("delivered", (3, 96)),)),
    "delivered_long_ago": Scenario(shipments=(("delivered", (14 * 24, 60 * 24)),)),
    "failed_attempt": Scenario(shipments=(("failed", (1, 20)),)),
    "at_pickup_point": Scenario(shipments=(("pickup", (3, 60)),)),
    "exception": Scenario(shipments=(("exception", (2, 30)),)),
    "returned_to_sender": Scenario(shipments=(("returned", (12, 150)),)),
    "split_delivered": Scenario(shipments=(("delivered", (30, 200)), ("delivered", (20, 150)))),
    "split_partly_delivered": Scenario(shipments=(("delivered", (20, 72)), ("transit", (1, 12)))),
    "split_out_and_backorder": Scenario(shipments=(("out", (0.5, 4)), ("label", (1, 8)))),
}

# (scenario, orders, how many of them are the demo shopper's)
ORDER_MIX: tuple[tuple[str, int, int], ...] = (
    ("placed", 3, 0),
    ("paid", 4, 1),
    ("fulfilled", 3, 0),
    ("cancelled_unpaid", 1, 0),
    ("cancelled_by_customer", 1, 0),
    ("cancelled_out_of_stock", 1, 0),
    ("label_created", 4, 0),
    ("in_transit", 6, 1),
    ("out_for_delivery", 4, 1),
    ("delivered_recently", 7, 1),
    ("delivered_long_ago", 7, 2),
    ("failed_attempt", 2, 0),
    ("at_pickup_point", 2, 0),
    ("exception", 2, 0),
    ("returned_to_sender", 2, 0),
    ("split_delivered", 1, 0),
    ("split_partly_delivered", 2, 1),
    ("split_out_and_backorder", 1, 0),
)
GUEST_SCENARIO = "in_transit"  # the first guest order of this scenario is the printed guest lookup

# --- the plan -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedEvent:
    stage: str
    ago: timedelta
    place: Place | None


@dataclass(frozen=True)
class PlannedShipment:
    carrier: str
    service: Service
    tracking_number: str
    items: tuple[tuple[str, int], ...]  # (sku, quantity)
    events: tuple[PlannedEvent, ...]  # oldest first

    @property
    def shipped_ago(self) -> timedelta:
        return self.events[0].ago


@dataclass(frozen=True)
class PlannedOrder:
    number: str
    scenario: str
    customer: Customer
    items: tuple[ItemData, ...]
    total: Decimal
    placed_ago: timedelta
    events: tuple[tuple[str, timedelta], ...]  # (paid | fulfilled | cancelled, ago), oldest first
    shipments: tuple[PlannedShipment, ...]


def _between(rng: random.Random, gap: Gap) -> timedelta:
    """A random duration in the range of hours, to the second."""
    return timedelta(seconds=round(rng.uniform(*gap) * 3600))


def _weighted(rng: random.Random, options: Sequence[tuple[_T, int]]) -> _T:
    return rng.choices([option for option, _ in options], weights=[weight for _, weight in options])[0]


def _ascii(text: str) -> str:
    """A name as an e-mail address spells it: "Müller" as "mueller", "de Vries" as "devries"."""
    text = text.lower()
    for letter, spelled in (
        ("ä", "ae"),
        ("ö", "oe"),
        ("ü", "ue"),
        ("ß", "ss"),
        ("ø", "oe"),
        ("å", "aa"),
        ("ı", "i"),
    ):
        text = text.replace(letter, spelled)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if ch.isascii() and ch.isalnum())


def _draw_email(rng: random.Random, first: str, last: str) -> str:
    first, last = _ascii(first), _ascii(last)
    styles = (
        f"{first}.{last}",
        f"{first[0]}.{last}",
        f"{first}{last}{rng.randint(70, 99)}",
        f"{last}.{first}",
    )
    return f"{rng.choice(styles)}@example.com"


def _draw_customer(rng: random.Random, known: list[Customer]) -> Customer:
    """A new guest, or now and then one who ordered before."""
    if known and rng.random() < RETURNING_CUSTOMER_SHARE:
        return rng.choice(known)
    domestic = rng.random() < DOMESTIC_SHARE
    place = rng.choice([city for city in CUSTOMER_CITIES if (city.country == "DE") == domestic])
    first_names, last_names = NAMES[place.country]
    first, last = rng.choice(first_names), rng.choice(last_names)
    street, number = rng.choice(STREETS[place.country]), rng.randint(1, 140)
    line1 = f"{number} {street}" if place.country == "FR" else f"{street} {number}"
    line2 = rng.choice(SECOND_LINES) if place.country == "DE" and rng.random() < 0.15 else None
    customer = Customer(
        f"{first} {last}",
        _draw_email(rng, first, last),
        place,
        line1,
        LOCALES.get(place.country, "en"),
        line2,
    )
    known.append(customer)
    return customer


def _draw_items(rng: random.Random, min_lines: int) -> tuple[ItemData, ...]:
    lines = max(min_lines, _weighted(rng, LINES_PER_ORDER))
    items = []
    for product in rng.sample(CATALOGUE, lines):
        sku, variant = rng.choice(product.variants())
        quantity = 2 if product.price < 40 and rng.random() < 0.25 else 1
        items.append(
            ItemData(
                sku=sku,
                name=product.name,
                quantity=quantity,
                unit_price=product.price,
                variant=variant,
                returnable=product.returnable,
            )
        )
    return tuple(items)


def _order_total(items: Sequence[ItemData], domestic: bool) -> Decimal:
    subtotal = sum((item.unit_price * item.quantity for item in items), Decimal("0.00"))
    return subtotal if subtotal >= FREE_SHIPPING_FROM[domestic] else subtotal + SHIPPING_FEE[domestic]


def _nearest_hub(place: Place, country: str) -> Place:
    def distance(hub: Place) -> float:
        dx = (hub.lon - place.lon) * math.cos(math.radians((hub.lat + place.lat) / 2))
        return math.hypot(dx, hub.lat - place.lat)

    return min((hub for hub in HUBS if hub.country == country), key=distance)


def _stage_place(stage: str, destination: Place, previous: Place | None) -> Place | None:
    """Where a stage is scanned: the shop's warehouse, a parcel centre, or the recipient's town."""
    if stage == "announced":
        return None  # data sent electronically
    if stage in ("picked_up", "returned"):
        return WAREHOUSE
    if stage in ("origin_hub", "departed"):
        return ORIGIN_HUB
    if stage in ("export", "destination_hub"):
        return _nearest_hub(destination, "DE")
    if stage == "import":
        return _nearest_hub(destination, destination.country)
    if stage in HUB_INCIDENTS:
        return previous
    return destination


def _draw_steps(rng: random.Random, outcome: str, destination: Place) -> list[tuple[str, Gap]]:
    """The stages a parcel went through to reach `outcome`, with the gaps between them."""
    route = list(DOMESTIC_ROUTE if destination.country == "DE" else INTERNATIONAL_ROUTE)
    if outcome in VARIANTS:
        outcome = _weighted(rng, VARIANTS[outcome])
    if outcome == "label":
        return route[:1]
    if outcome == "transit":
        return route[: rng.randint(3, len(route))]
    if outcome in HUB_INCIDENTS:
        return [*route[: rng.randint(3, len(route))], (outcome, HUB_INCIDENTS[outcome])]
    return [*route, *ENDINGS[outcome]]


def _draw_events(
    rng: random.Random, outcome: str, latest: Gap, destination: Place
) -> tuple[PlannedEvent, ...]:
    """A parcel's tracking history, timed backwards from its latest event `latest` hours ago."""
    steps = _draw_steps(rng, outcome, destination)
    agos = [_between(rng, latest)]
    for _, gap in reversed(steps[1:]):
        agos.append(agos[-1] + _between(rng, gap))
    agos.reverse()
    events: list[PlannedEvent] = []
    for (stage, _), ago in zip(steps, agos, strict=True):
        previous = events[-1].place if events else None
        events.append(PlannedEvent(stage, ago, _stage_place(stage, destination, previous)))
    return tuple(events)


def _draw_carrier(rng: random.Random, international: bool) -> tuple[Carrier, Service]:
    options = [c for c in CARRIERS if any(s.international == international for s in c.services)]
    carrier = _weighted(rng, [(c, c.weight) for c in options])
    services = [(s, s.weight) for s in carrier.services if s.international == international]
    return carrier, _weighted(rng, services)


def _draw_tracking_number(rng: random.Random, carrier: Carrier, service: Service) -> str:
    """A number in the carrier's usual format (all match the API's identifier pattern)."""
    if carrier.name == "DHL":
        if service.international:
            return f"JJD00039000{rng.randrange(10**10):010d}"
        return f"003404341{rng.randrange(10**11):011d}"
    if carrier.name == "UPS":
        service_code = "65" if service.name == "Express Saver" else "11"
        return f"1ZV96Y88{service_code}{rng.randrange(10**8):08d}"
    if carrier.name == "DPD":
        return f"0150{rng.randrange(10**10):010d}"
    return f"H1000{rng.randrange(10**15):015d}"


def _split(items: Sequence[ItemData], parts: int) -> list[tuple[tuple[str, int], ...]]:
    """Every item in full, spread over `parts` shipments in order (the first takes the larger share)."""
    if not parts:
        return []
    lines = [(item.sku, item.quantity) for item in items]
    size = math.ceil(len(lines) / parts)
    return [tuple(lines[i * size : (i + 1) * size]) for i in range(parts)]


def _draw_shipments(
    rng: random.Random, scenario: Scenario, customer: Customer, items: Sequence[ItemData], taken: set[str]
) -> tuple[PlannedShipment, ...]:
    international = customer.place.country != "DE"
    shipments = []
    for (outcome, latest), lines in zip(
        scenario.shipments, _split(items, len(scenario.shipments)), strict=True
    ):
        carrier, service = _draw_carrier(rng, international)
        tracking_number = _draw_tracking_number(rng, carrier, service)
        while tracking_number in taken:
            tracking_number = _draw_tracking_number(rng, carrier, service)
        taken.add(tracking_number)
        events = _draw_events(rng, outcome, latest, customer.place)
        shipments.append(PlannedShipment(carrier.name, service, tracking_number, lines, events))
    return tuple(shipments)


def _draw_timeline(
    rng: random.Random, scenario: Scenario, shipments: Sequence[PlannedShipment]
) -> tuple[timedelta, tuple[tuple[str, timedelta], ...]]:
    """(placed ago, the order's later events) — before the first parcel was handed over, if any."""
    if shipments:
        fulfilled = max(s.shipped_ago for s in shipments) + _between(rng, (0.1, 0.7))
        paid = fulfilled + _between(rng, (0.5, 20))
        return paid + _between(rng, (0.02, 0.4)), (("paid", paid), ("fulfilled", fulfilled))
    placed = _between(rng, scenario.placed)
    ago, events = placed, []
    for event_type, gap in (
        ("paid", scenario.paid_after),
        ("fulfilled", scenario.fulfilled_after),
        ("cancelled", scenario.cancelled_after),
    ):
        if gap is not None:
            ago -= _between(rng, gap)
            events.append((event_type, ago))
    return placed, tuple(events)


def _draw_order(rng: random.Random, scenario_name: str, customer: Customer, taken: set[str]) -> PlannedOrder:
    scenario = SCENARIOS[scenario_name]
    items = _draw_items(rng, min_lines=len(scenario.shipments))
    shipments = _draw_shipments(rng, scenario, customer, items, taken)
    placed_ago, events = _draw_timeline(rng, scenario, shipments)
    total = _order_total(items, domestic=customer.place.country == "DE")
    return PlannedOrder("", scenario_name, customer, items, total, placed_ago, events, shipments)


def build_plan(seed: int = SEED) -> tuple[PlannedOrder, ...]:
    """Every demo order, numbered in the order they were placed. Depends on nothing but `seed`."""
    rng = random.Random(seed)
    known: list[Customer] = []
    taken: set[str] = set()
    drafts = []
    for scenario_name, count, shoppers in ORDER_MIX:
        for index in range(count):
            if index < shoppers:
                customer = SHOPPER
            elif scenario_name == GUEST_SCENARIO and index == shoppers:
                customer = GUEST
            else:
                customer = _draw_customer(rng, known)
            drafts.append(_draw_order(rng, scenario_name, customer, taken))
    drafts.sort(key=lambda order: order.placed_ago, reverse=True)
    return tuple(
        replace(order, number=f"DS-{ORDER_NUMBER_START + index}") for index, order in enumerate(drafts)
    )


PLAN: tuple[PlannedOrder, ...] = build_plan()
DEMO_GUEST: tuple[str, str] = (next(o.number for o in PLAN if o.customer is GUEST), GUEST.email)

# --- seeding ------------------------------------------------------------------------------------------------


@dataclass
class _Tally:
    users: int = 0
    orders: int = 0
    shipments: int = 0
    events: int = 0


def seed_demo() -> str:
    """Create or refresh the demo users and shop through the services; return a one-line summary.

    Idempotent. Flushes but does not commit: the caller commits once.
    """
    actor = Actor.system("demo")
    tally = _Tally(users=_ensure_users())
    anchor = _anchor()
    for order in PLAN:
        _seed_order(order, anchor, actor, tally)
    seed_survey_answers(clock.now())
    seed_demo_return(DEMO_USERS["shopper"][0])
    seed_loyalty_history(DEMO_USERS["shopper"][0])
    shipments = sum(len(order.shipments) for order in PLAN)
    events = sum(len(shipment.events) for order in PLAN for shipment in order.shipments)
    return (
        f"{len(PLAN)} orders, {shipments} shipments, {events} tracking events, {len(DEMO_USERS)} demo users"
        f" (new: {tally.orders} orders, {tally.shipments} shipments, {tally.events} events,"
        f" {tally.users} users)"
    )


def _ensure_users() -> int:
    """Create the demo users that do not exist yet (e-mail counted as verified); return how many were new."""
    created = 0
    for role, (email, password) in DEMO_USERS.items():
        if db.session.scalar(select(User.id).where(User.email == normalise_email(email))) is None:
            create_user(email, password, role, DEMO_USER_NAMES[role], verified=True)
            created += 1
    return created


def _anchor() -> datetime:
    """The instant the plan's offsets count back from: now on the first run, the same instant afterwards."""
    first = PLAN[0]
    placed_at = db.session.scalar(select(Order.placed_at).where(Order.number == first.number))
    if placed_at is not None:
        return placed_at + first.placed_ago
    return clock.now().replace(second=0, microsecond=0)


def _seed_order(order: PlannedOrder, anchor: datetime, actor: Actor, tally: _Tally) -> None:
    customer = order.customer
    data = OrderData(
        email=customer.email,
        customer_name=customer.name,
        placed_at=anchor - order.placed_ago,
        currency=CURRENCY,
        total=order.total,
        shipping_address=customer.address(),
        items=order.items,
        locale=customer.locale,
    )
    _, created = upsert_order(order.number, data, actor)
    tally.orders += created
    for event_type, ago in order.events:
        record_order_event(order.number, event_type, anchor - ago, actor)
    for shipment in order.shipments:
        _seed_shipment(order.number, shipment, anchor, actor, tally)


def _seed_shipment(
    number: str, shipment: PlannedShipment, anchor: datetime, actor: Actor, tally: _Tally
) -> None:
    shipped_at = anchor - shipment.shipped_ago
    earliest, latest = promised_window(shipped_at, shipment.service.transit_days)
    data = ShipmentData(
        carrier=shipment.carrier,
        items=shipment.items,
        service=shipment.service.name,
        shipped_at=shipped_at,
        promised_earliest=earliest,
        promised_latest=latest,
    )
    _, created = upsert_shipment(number, shipment.tracking_number, data, actor)
    tally.shipments += created
    events = [_event_data(shipment, n, event, anchor) for n, event in enumerate(shipment.events, start=1)]
    tally.events += len(ingest_tracking_events(events, actor).stored)


def promised_window(shipped_at: datetime, transit_days: tuple[int, int]) -> tuple[datetime, datetime]:
    """From 08:00 on the first to 20:00 on the last promised day, in the shop's time zone, as UTC."""
    shipped_on = shipped_at.astimezone(SHOP_TIMEZONE).date()
    first, last = (shipped_on + timedelta(days=days) for days in transit_days)
    earliest = datetime.combine(first, time(8), SHOP_TIMEZONE)
    latest = datetime.combine(last, time(20), SHOP_TIMEZONE)
    return earliest.astimezone(UTC), latest.astimezone(UTC)


def _event_data(
    shipment: PlannedShipment, n: int, event: PlannedEvent, anchor: datetime
) -> TrackingEventData:
    raw_status, description = SCANS[shipment.carrier][event.stage]
    place = event.place
    return TrackingEventData(
        event_id=f"demo-{shipment.tracking_number}-{n}",
        tracking_number=shipment.tracking_number,
        status=STAGE_STATUS[event.stage],
        occurred_at=anchor - event.ago,
        description=description,
        raw_status=raw_status,
        city=place.city if place else None,
        region=place.region if place else None,
        country=place.country if place else None,
        lat=place.lat if place else None,
        lon=place.lon if place else None,
    )

"""Fixed vocabularies for the seeded store (names, places, carriers, statuses)."""

from __future__ import annotations

# (path, kind, sku prefix, price range). kind: "sizecolor", "shoe", "simple".
# Every non-leaf path is created from its prefixes; products go into the leaves listed here.
CATEGORY_LEAVES: list[tuple[str, str, str, tuple[float, float]]] = [
    ("Apparel > Shirts", "sizecolor", "SHT", (14.0, 59.0)),
    ("Apparel > Pants", "sizecolor", "PNT", (29.0, 89.0)),
    ("Apparel > Outerwear", "sizecolor", "OUT", (59.0, 249.0)),
    ("Apparel > Shoes", "shoe", "SHO", (39.0, 159.0)),
    ("Apparel > Accessories", "simple", "ACC", (9.0, 49.0)),
    ("Home > Kitchen > Cookware", "simple", "CKW", (19.0, 229.0)),
    ("Home > Kitchen > Cutlery", "simple", "CUT", (12.0, 179.0)),
    ("Home > Bedding", "simple", "BED", (24.0, 199.0)),
    ("Home > Decor", "simple", "DEC", (9.0, 129.0)),
    ("Outdoors > Camping", "simple", "CMP", (15.0, 399.0)),
    ("Outdoors > Fitness", "simple", "FIT", (9.0, 299.0)),
    ("Electronics > Audio", "simple", "AUD", (19.0, 349.0)),
    ("Electronics > Accessories", "simple", "EAC", (7.0, 79.0)),
]

# Top-level categories without primary products; some products link to them as secondary.
SECONDARY_CATEGORIES = ["Sale", "New Arrivals"]

NOUNS: dict[str, list[str]] = {
    "SHT": ["Crew Tee", "V-Neck Tee", "Oxford Shirt", "Flannel Shirt", "Polo", "Henley", "Tank"],
    "PNT": ["Chino", "Jogger", "Denim Jean", "Cargo Pant", "Trail Short", "Lounge Pant"],
    "OUT": ["Rain Jacket", "Puffer Vest", "Fleece Pullover", "Parka", "Softshell", "Anorak"],
    "SHO": ["Runner", "Trail Shoe", "Sneaker", "Boot", "Slip-On", "Sandal"],
    "ACC": ["Beanie", "Belt", "Cap", "Scarf", "Tote Bag", "Wallet", "Sock Pack"],
    "CKW": ["Skillet", "Saucepan", "Dutch Oven", "Stock Pot", "Wok", "Sheet Pan"],
    "CUT": ["Chef Knife", "Paring Knife", "Bread Knife", "Knife Block", "Steak Knife Set"],
    "BED": ["Sheet Set", "Duvet Cover", "Pillow", "Quilt", "Throw Blanket", "Mattress Pad"],
    "DEC": ["Candle", "Vase", "Wall Clock", "Picture Frame", "Table Lamp", "Planter"],
    "CMP": ["Tent", "Sleeping Bag", "Headlamp", "Camp Stove", "Lantern", "Water Filter"],
    "FIT": ["Yoga Mat", "Kettlebell", "Resistance Band", "Jump Rope", "Foam Roller", "Dumbbell"],
    "AUD": ["Earbuds", "Headphones", "Bluetooth Speaker", "Soundbar", "Turntable"],
    "EAC": ["USB-C Cable", "Wall Charger", "Power Bank", "Phone Case", "Laptop Sleeve"],
}

ADJECTIVES = [
    "Classic", "Essential", "Heritage", "Everyday", "Premium", "Ultralight", "Modern",
    "Vintage", "Pro", "Signature", "Coastal", "Summit", "Urban", "Organic", "Heavy-Duty",
]
MATERIALS = [
    "Cotton", "Linen", "Merino", "Bamboo", "Canvas", "Cast Iron", "Stainless", "Walnut",
    "Recycled", "Ceramic", "Leather", "Nylon", "Aluminum", "Wool", "Hemp",
]

BRANDS: list[tuple[str, str]] = [  # (name, brand_code)
    ("Northwind Outfitters", "NWO"), ("Blue Heron Co.", "BHC"), ("Copperline", "CPL"),
    ("Prairie & Pine", "PNP"), ("Lone Star Goods", "LSG"), ("Harbor Supply", "HBS"),
    ("Ironwood Kitchen", "IWK"), ("Meridian Audio", "MRA"), ("Red River Apparel", "RRA"),
    ("Summit Trail", "SMT"), ("Kestrel Home", "KHM"), ("Alder & Ash", "ALA"),
    ("Bayou Threads", "BYT"), ("Granite Peak", "GRP"), ("Voltaic", "VLT"),
    ("Maple Street", "MPS"), ("Juniper Labs", "JNL"), ("Tidewater", "TDW"),
    ("Oak Hollow", "OKH"), ("Starling Fitness", "STF"),
]

PRODUCT_STATUSES = [  # name, is_unavailable, is_back_ordered, show_quantity, time_frame
    ("In Stock", False, False, True, ""),
    ("Out of Stock", True, False, False, ""),
    ("Back Ordered", False, True, False, "Ships in 2-3 weeks"),
    ("Discontinued", True, False, False, ""),
    ("Pre-Order", False, True, False, "Ships next month"),
]

# name -> flags; order is the id order. Names are relied upon by other teams.
ORDER_STATUSES: list[tuple[str, dict[str, bool], str]] = [
    ("Pending", {"is_open": True}, "#9E9E9E"),
    ("Processing", {"is_open": True}, "#2196F3"),
    ("Partially Shipped", {"is_partially_shipped": True}, "#FF9800"),
    ("Shipped", {"is_shipped": True}, "#4CAF50"),
    ("Completed", {}, "#1B5E20"),
    ("Cancelled", {"is_cancelled": True}, "#F44336"),
    ("Declined", {"is_declined": True}, "#B71C1C"),
    ("Refunded", {"is_fully_refunded": True}, "#9C27B0"),
    ("Quote", {"is_quote_status": True}, "#607D8B"),
]
STATUS_FLAGS = [
    "is_open", "is_declined", "is_cancelled", "is_shipped", "is_partially_shipped",
    "is_fully_refunded", "is_partially_refunded", "is_quote_status",
]

# provider name, provider_code, tracking url template, services [(identifier, name, cost)]
SHIPPING_PROVIDERS: list[tuple[str, str, str, list[tuple[str, str, float]]]] = [
    ("UPS", "UPS", "https://www.ups.com/track?tracknum={}", [
        ("UPS_GROUND", "UPS Ground", 9.95),
        ("UPS_2ND_DAY_AIR", "UPS 2nd Day Air", 19.95),
        ("UPS_NEXT_DAY_AIR", "UPS Next Day Air", 34.95),
    ]),
    ("FedEx", "FEDEX", "https://www.fedex.com/fedextrack/?trknbr={}", [
        ("FEDEX_GROUND", "FedEx Ground", 9.49),
        ("FEDEX_2_DAY", "FedEx 2Day", 21.50),
        ("FEDEX_EXPRESS_SAVER", "FedEx Express Saver", 16.75),
        ("PRIORITY_OVERNIGHT", "FedEx Priority Overnight", 39.00),
    ]),
    ("USPS", "USPS", "https://tools.usps.com/go/TrackConfirmAction?tLabels={}", [
        ("USPS_PRIORITY", "USPS Priority Mail", 8.70),
        ("USPS_GROUND_ADVANTAGE", "USPS Ground Advantage", 5.25),
        ("USPS_PRIORITY_EXPRESS", "USPS Priority Mail Express", 28.75),
    ]),
    ("DHL", "DHL", "https://www.dhl.com/us-en/home/tracking.html?tracking-id={}", [
        ("DHL_EXPRESS", "DHL Express Worldwide", 45.00),
    ]),
]
CUSTOM_SHIPPING_METHODS = [  # name, cost, is_default, description
    ("Local Delivery", 7.50, False, "Same-day delivery inside the metro area"),
    ("Freight", 89.00, False, "LTL freight for oversized items"),
    ("Store Pickup", 0.0, False, "Pick up at our Austin warehouse"),
]

SIZES_APPAREL = ["XS", "S", "M", "L", "XL", "XXL"]
SIZES_SHOES = ["6", "7", "8", "9", "10", "11", "12", "13"]
COLORS: list[tuple[str, str, str]] = [  # name, SKU code, swatch colour
    ("Black", "BLK", "#000000"), ("White", "WHT", "#FFFFFF"), ("Navy", "NVY", "#1F2A44"),
    ("Red", "RED", "#C62828"), ("Heather Gray", "HGR", "#9E9E9E"), ("Olive", "OLV", "#6B8E23"),
    ("Charcoal", "CHR", "#36454F"), ("Royal Blue", "RBL", "#4169E1"),
    ("Forest Green", "FGR", "#228B22"), ("Sand", "SND", "#C2B280"),
    ("Burgundy", "BUR", "#800020"), ("Mustard", "MUS", "#E1AD01"),
]

FIRST_NAMES = [
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas",
    "Sarah", "Carlos", "Karen", "Daniel", "Lisa", "Matthew", "Nancy", "Anthony", "Betty",
    "Mark", "Sandra", "Luis", "Ashley", "Steven", "Kimberly", "Andrew", "Emily", "Kevin",
    "Donna", "Brian", "Michelle", "Priya", "Carol", "Wei", "Amanda", "Jose", "Melissa",
    "Ryan", "Deborah", "Jacob", "Maria", "Nguyen", "Aisha",
]
LAST_NAMES = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Torres", "Nguyen", "Hill", "Flores", "O'Brien", "Patel", "Kim", "Chen",
]
STREETS = [
    "Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Elm St", "Congress Ave", "Lamar Blvd",
    "Park Rd", "Lakeview Dr", "Washington Ave", "Sunset Blvd", "Hillcrest Rd", "Mill St",
    "River Rd", "Church St", "Pine St", "Ridge Rd", "Highland Ave", "Meadow Ln", "2nd St",
]
# city, state, state_code, zip prefix (3 digits), tax rate
US_CITIES: list[tuple[str, str, str, str, float]] = [
    ("Austin", "Texas", "TX", "787", 0.0825), ("Houston", "Texas", "TX", "770", 0.0825),
    ("Dallas", "Texas", "TX", "752", 0.0825), ("Chicago", "Illinois", "IL", "606", 0.1025),
    ("Denver", "Colorado", "CO", "802", 0.0881), ("Seattle", "Washington", "WA", "981", 0.1025),
    ("Portland", "Oregon", "OR", "972", 0.0), ("Phoenix", "Arizona", "AZ", "850", 0.086),
    ("Atlanta", "Georgia", "GA", "303", 0.089), ("Miami", "Florida", "FL", "331", 0.07),
    ("Boston", "Massachusetts", "MA", "021", 0.0625),
    ("Nashville", "Tennessee", "TN", "372", 0.0925),
    ("Columbus", "Ohio", "OH", "432", 0.075), ("Brooklyn", "New York", "NY", "112", 0.08875),
    ("San Diego", "California", "CA", "921", 0.0775),
    ("Oakland", "California", "CA", "946", 0.1025),
    ("Minneapolis", "Minnesota", "MN", "554", 0.08025), ("Anchorage", "Alaska", "AK", "995", 0.0),
    ("Honolulu", "Hawaii", "HI", "968", 0.045), ("Madison", "Wisconsin", "WI", "537", 0.055),
    ("Boise", "Idaho", "ID", "837", 0.06), ("Omaha", "Nebraska", "NE", "681", 0.07),
    ("Raleigh", "North Carolina", "NC", "276", 0.0725),
    ("Burlington", "Vermont", "VT", "054", 0.07),
]
# city, province, code, postal code
CA_CITIES: list[tuple[str, str, str, str]] = [
    ("Toronto", "Ontario", "ON", "M5V 3L9"), ("Vancouver", "British Columbia", "BC", "V6B 1A1"),
    ("Montreal", "Quebec", "QC", "H2Y 1C6"), ("Calgary", "Alberta", "AB", "T2P 2M5"),
]
CARD_TYPES = ["Visa", "MasterCard", "American Express", "Discover"]
DEVICES = ["Desktop", "Mobile", "Tablet"]
SOURCES = ["Direct", "Google", "Facebook", "Email", "Instagram", "Bing", ""]
COUPONS = ["SAVE10", "WELCOME15", "FREESHIP", "SPRING20"]

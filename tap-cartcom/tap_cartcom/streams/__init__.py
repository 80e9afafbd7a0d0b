"""Stream classes of tap-cartcom."""

from tap_cartcom.streams.catalog import (
    ProductPicturesStream,
    ProductPricingStream,
    ProductsStream,
    ProductVariantsStream,
    VariantInventoryStream,
)
from tap_cartcom.streams.orders import (
    OrderAddressesStream,
    OrderItemsStream,
    OrderPaymentsStream,
    OrderShipmentsStream,
    OrdersStream,
)
from tap_cartcom.streams.reference import (
    CategoriesStream,
    CustomersStream,
    ManufacturersStream,
    OrderStatusesStream,
    ProductStatusesStream,
    VariantGroupsStream,
)

STREAM_TYPES = [
    OrdersStream,
    OrderItemsStream,
    OrderShipmentsStream,
    OrderPaymentsStream,
    OrderAddressesStream,
    ProductsStream,
    ProductVariantsStream,
    VariantInventoryStream,
    ProductPicturesStream,
    ProductPricingStream,
    OrderStatusesStream,
    ProductStatusesStream,
    CategoriesStream,
    ManufacturersStream,
    VariantGroupsStream,
    CustomersStream,
]

__all__ = ["STREAM_TYPES"]

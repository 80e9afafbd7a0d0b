"""tap-cartcom: a Singer tap for Cart.com (ex-AmeriCommerce) stores."""

"""target-cartcom: write listings, tracking and acknowledgements to a Cart.com store."""

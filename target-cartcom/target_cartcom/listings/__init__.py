"""Listings handling for target-cartcom."""

"""Orders handling for target-cartcom."""

"""Run the tap: ``python -m tap_cartcom``."""

from tap_cartcom.tap import TapCartcom

TapCartcom.cli()

"""Run the target as ``python -m target_cartcom``."""

from target_cartcom.target import TargetCartcom

TargetCartcom.cli()

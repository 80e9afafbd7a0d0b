"""Run this Meltano project's jobs for many Cart.com stores with Dagster."""

from cartcom_orchestration.stores import Router, Store, StoresConfig, StoresFileError, load_stores

__all__ = ["Router", "Store", "StoresConfig", "StoresFileError", "load_stores"]

"""``python -m cartcom_sandbox`` runs the CLI."""

from cartcom_sandbox.cli import main

raise SystemExit(main())

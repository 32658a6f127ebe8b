"""SyncPlanet reconciler: domain, store, desired state, planning, transfer, scheduler, CLI."""

"""Transports: how the hub host reaches a site's root, and the only place rsync and ssh live.

The reconcile jobs (`reconciler.jobs.reconcile`, `reconciler.jobs.scan`,
`reconciler.jobs.deletions`) decide what to move in pure code, then act through one `SiteTransport`
(`reconciler.transport.protocol`): list a volume, send or receive a batch with per-file
verification, move copies to trash, purge old trash, probe reachability. No module outside
this package builds a command line (a test checks it).

- `protocol`: the `SiteTransport` protocol and its values (`Batch`, `TransferOutcome`, ...);
- `sites`: its implementations, `LocalTransport` (a root on the hub host) and `SshTransport`
  (rsync over SSH), and `open_site`; `rsync`: what they share;
- `commands`: every argument vector and shell snippet, built without running it (pure);
  `itemize`: the pure parser of rsync's itemized output; `trash`: trash folder names;
  `options`: user rsync options by scope;
- `shells`: where commands run, the hub host (`LocalShell`, `FabricShell`); `hub`: opening
  it with its ControlMaster folder; `ssh`: ssh client options and lanes; `urls`: site URLs.

This file imports nothing, so pure modules can use `reconciler.core.urls` alone.
To add a transport (S3, rclone...): implement `SiteTransport`, return it from
`sites.open_site` for its URLs, and add it to the contract suite's parameters.
"""

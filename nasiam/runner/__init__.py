"""Runners: the training commands on Lightning Fabric (DDP, precision, checkpoints, logs). The
errors a run can end with are `nasiam.errors`'."""

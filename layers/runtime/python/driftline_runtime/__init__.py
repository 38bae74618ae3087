"""driftline's runtime library, shipped to every function as the ``runtime`` layer.

It holds what more than one function needs: observability set-up, settings models,
and (as the pipeline grows) contracts, validation, drift statistics, lineage and
event models. It must import cheaply: functions pay for it on every cold start.
"""

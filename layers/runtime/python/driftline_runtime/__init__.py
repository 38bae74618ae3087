"""driftline's runtime library, shipped to every function as the ``runtime`` layer.

It holds what more than one function (or the CLI, or the CDK app) needs: the names the
parts agree on (``names``), the step models between state-machine steps (``steps``), the
event models (``events``), the training baseline's schema (``baseline``), structured
rejection reasons (``reasons``), contracts, readers and validation, drift statistics,
lineage, the model registry, observability and settings models. It must import cheaply:
functions pay for it on every cold start.

This file imports nothing: the SageMaker source tarball ships it, with ``names``, to a
container that has none of the layer's other packages.
"""

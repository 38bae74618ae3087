"""SageMaker for the local cloud: the API, and jobs that really run as host processes.

MiniStack serves no SageMaker. This package serves the subset driftline uses (training
jobs, models, transform jobs, the model registry) and runs training and transform jobs
the way SageMaker's framework containers do, with a folder standing in for ``/opt/ml``
and a framework virtual environment standing in for the container image (see
``containers.py``).
"""

"""A scikit-learn binary classifier, trained and served under SageMaker's script mode.

``training/train.py`` runs :func:`job.main`, ``training/inference.py`` serves with
:mod:`serving`; everything else is here, one module per part of the job. The modules
import each other relatively, so the package loads both as ``training.sklearn_classifier``
(tests, type checking, the CDK app's metric definitions) and as the top-level
``sklearn_classifier`` the framework container finds next to the entry points.
"""

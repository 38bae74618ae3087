"""Finding a dataset's contract at run time, one module at a time.

Contracts live in the contracts layer's package (``driftline_contracts``): modules that
each define ``DATASETS``, a tuple of :class:`DatasetSpec`. A module that does not load
(an import error, a spec that does not validate, a contract the validator cannot check)
must cost only the datasets it declares, never every dataset's ingestion. So a function
never imports every module: it looks the dataset up and imports only the module that
declares it. A module that fails raises :class:`ContractUnavailable` for its own
datasets, and the ingest function quarantines their files with ``contract_unavailable``.

How a function knows which datasets a module declares when the module does not import:
a manifest, ``catalog.json`` in the package (dataset name -> module and kind), written
at synth into the layer asset next to the modules it describes. Synth imports and checks
every module anyway (any problem stops the deploy), so the manifest costs nothing extra,
and the layer and its manifest are one asset: they cannot disagree. A naming convention
(one module per dataset, named after it) was the alternative; it would forbid what the
contracts already do (``transactions.py`` declares the training set and the batches
scored against it), and a module declaring one more dataset would be silently wrong.

Without a manifest (the source tree: unit tests, the CLI) the catalog is built by
importing and checking every module, and any problem is an error: that is where
``driftline contracts check`` and synth stop a broken module before it is deployed.
Modules whose name starts with ``_`` are helpers the others import, not declarations.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import pkgutil
import traceback
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import ModuleType

from pydantic import BaseModel, ConfigDict, ValidationError

from driftline_runtime.contracts import DatasetKind, DatasetSpec

MANIFEST_NAME = "catalog.json"


@dataclass(frozen=True)
class Problem:
    """Why a module, or a dataset it declares, cannot be used; ``line`` in the module."""

    module: str
    message: str
    line: int | None = None
    # The dataset at fault, when the module loads and one of its datasets does not fit.
    dataset: str | None = None

    def located(self, where: str) -> str:
        """The message after ``where`` (how the reader knows the module: a path, a name)."""
        return f"{where}{f', line {self.line}' if self.line else ''}: {self.message}"


class ContractsError(ValueError):
    """Contract modules that must not be deployed; one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(
            f"The dataset contracts have {count}:\n" + "\n".join(f"  {p}" for p in problems)
        )


class ContractUnavailable(Exception):
    """The module that declares a dataset does not load here; other datasets are fine."""

    def __init__(self, dataset: str, module: str, problem: Problem) -> None:
        self.dataset, self.module, self.problem = dataset, module, problem
        at = f" at line {problem.line}" if problem.line else ""
        super().__init__(
            f"the contract module {module}, which declares {dataset!r}, does not load{at}: "
            f"{problem.message}"
        )


class Declaration(BaseModel):
    """What the manifest says of a dataset: the module that declares it, and its kind."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dataset: str
    module: str
    kind: DatasetKind


class ModuleProblem(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def explain(error: BaseException) -> str:
    """An exception as one line; a ValidationError names the model and each field."""
    if isinstance(error, ValidationError):
        fields = "; ".join(
            # A model validator's error has no field in its location; its message names them.
            ": ".join(
                part
                for part in (
                    ".".join(str(step) for step in e["loc"]),
                    e["msg"].removeprefix("Value error, "),
                )
                if part
            )
            for e in error.errors(include_url=False)
        )
        return f"{error.title} is invalid: {fields}"
    if isinstance(error, SyntaxError):
        return f"SyntaxError: {error.msg}"
    # Some errors (pydantic's schema errors among them) span lines: one line here.
    text = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
    return f"{type(error).__name__}: {text}"


def _line_in(error: BaseException, source: str | None) -> int | None:
    """The line of ``source`` (a module's file) where ``error`` was raised, if there."""
    if isinstance(error, SyntaxError) and error.filename == source:
        return error.lineno
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == source]
    return frames[-1].lineno if frames else None


def load_module(package: str, name: str) -> ModuleType:
    """Import ``package.name``; ModuleProblem (with the line) if it does not load."""
    qualified = f"{package}.{name}"
    try:
        return importlib.import_module(qualified)
    # Whatever a module raises at import is that module's problem, reported with it;
    # SystemExit included, so one module cannot end a function's process.
    except (Exception, SystemExit) as error:
        spec = importlib.util.find_spec(qualified)
        source = spec.origin if spec else None
        raise ModuleProblem(Problem(name, explain(error), _line_in(error, source))) from error


def specs_of(module: ModuleType, name: str) -> list[DatasetSpec]:
    """The module's ``DATASETS``, each checked as the validator will compile it."""
    declared = getattr(module, "DATASETS", None)
    if not isinstance(declared, tuple | list):
        raise ModuleProblem(
            Problem(
                name,
                "defines no DATASETS tuple of DatasetSpec (a helper module that declares "
                "nothing is named with a leading '_')"
                if declared is None
                else f"DATASETS is a {type(declared).__name__}, not a tuple of DatasetSpec",
            )
        )
    specs = []
    for index, spec in enumerate(declared):
        if not isinstance(spec, DatasetSpec):
            problem = f"DATASETS[{index}] is {type(spec).__name__}, not a DatasetSpec"
            raise ModuleProblem(Problem(name, problem))
        specs.append(spec)
    return specs


def contract_problem(spec: DatasetSpec, module: str) -> Problem | None:
    """Why the validator cannot check ``spec``'s contract (an unsupported constraint)."""
    from driftline_runtime.validation import compile_contract  # pyarrow: only when needed

    try:
        compile_contract(spec.contract)
    except TypeError as error:
        return Problem(module, f"dataset {spec.name!r}: contract {error}", dataset=spec.name)
    return None


@dataclass
class Inspection:
    """Every module of a contracts package, imported and checked."""

    modules: list[str] = field(default_factory=list)
    specs: dict[str, tuple[str, DatasetSpec]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def declarations(self) -> dict[str, Declaration]:
        return {
            name: Declaration(dataset=name, module=module, kind=spec.kind)
            for name, (module, spec) in self.specs.items()
        }


def inspect_package(package: str) -> Inspection:
    """Import every declaring module of ``package`` and check each spec and the whole."""
    found = Inspection()
    root = importlib.import_module(package)
    for info in sorted(pkgutil.iter_modules(root.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        found.modules.append(info.name)
        try:
            specs = specs_of(load_module(package, info.name), info.name)
        except ModuleProblem as error:
            found.problems.append(error.problem)
            continue
        for spec in specs:
            if spec.name in found.specs:
                first = found.specs[spec.name][0]
                message = (
                    f"dataset {spec.name!r} is declared twice: in {first}.py and in "
                    f"{info.name}.py (a name is declared once)"
                )
                found.problems.append(Problem(info.name, message))
                continue
            problem = contract_problem(spec, info.name)
            if problem is not None:
                found.problems.append(problem)
            found.specs[spec.name] = (info.name, spec)
    found.problems.extend(_reference_problems(found.specs))
    found.problems.extend(_capture_problems(found.specs))
    return found


def _reference_problems(specs: dict[str, tuple[str, DatasetSpec]]) -> list[Problem]:
    """Each ``model_dataset`` must name a declared training dataset, each
    ``labels_for`` a declared inference dataset."""
    training = sorted(name for name, (_, spec) in specs.items() if spec.kind == "training")
    problems = []
    for name, (module, spec) in specs.items():
        scored_by = getattr(spec, "model_dataset", None)
        if scored_by and scored_by not in training:
            problems.append(
                Problem(
                    module,
                    f"dataset {name!r}: model_dataset {scored_by!r} is not a declared training "
                    f"dataset (training datasets: {', '.join(training) or 'none'})",
                    dataset=name,
                )
            )
    inference = sorted(name for name, (_, spec) in specs.items() if spec.kind == "inference")
    for name, (module, spec) in specs.items():
        labelled = getattr(spec, "labels_for", None)
        if labelled and labelled not in inference:
            problems.append(
                Problem(
                    module,
                    f"dataset {name!r}: labels_for {labelled!r} is not a declared inference "
                    f"dataset (inference datasets: {', '.join(inference) or 'none'})",
                    dataset=name,
                )
            )
    return problems


def write_manifest(folder: Path, declarations: dict[str, Declaration]) -> Path:
    """Synth's half: the manifest the catalog reads at run time."""
    document = {
        "datasets": {
            name: {"module": d.module, "kind": d.kind} for name, d in sorted(declarations.items())
        }
    }
    path = folder / MANIFEST_NAME
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


class ContractCatalog:
    """The datasets of one contracts package; each module imported at most once."""

    def __init__(self, package: str, folder: Path) -> None:
        self.package, self.folder = package, folder
        self._loaded: dict[str, list[DatasetSpec] | Problem] = {}

    @cached_property
    def declarations(self) -> dict[str, Declaration]:
        """Dataset name -> declaring module and kind, without importing any module."""
        manifest = self.folder / MANIFEST_NAME
        if manifest.is_file():
            datasets = json.loads(manifest.read_text())["datasets"]
            return {name: Declaration(dataset=name, **entry) for name, entry in datasets.items()}
        inspection = inspect_package(self.package)
        if inspection.problems:
            raise ContractsError(
                [p.located(f"{self.package}.{p.module}") for p in inspection.problems]
            )
        return inspection.declarations

    def contract(self, dataset: str) -> DatasetSpec | None:
        """``dataset``'s spec, None if no module declares it; ContractUnavailable if its
        module does not load (or no longer declares it)."""
        declaration = self.declarations.get(dataset)
        if declaration is None:
            return None
        loaded = self._load(declaration.module)
        qualified = f"{self.package}.{declaration.module}"
        if isinstance(loaded, Problem):
            raise ContractUnavailable(dataset, qualified, loaded)
        for spec in loaded:
            if spec.name == dataset:
                problem = contract_problem(spec, declaration.module)
                if problem is not None:
                    raise ContractUnavailable(dataset, qualified, problem)
                return spec
        missing = Problem(declaration.module, f"it no longer declares {dataset!r}")
        raise ContractUnavailable(dataset, qualified, missing)

    def contracts(self) -> dict[str, DatasetSpec]:
        """Every dataset's spec (ContractUnavailable for the first that does not load)."""
        found = {}
        for name in self.declarations:
            spec = self.contract(name)
            if spec is not None:
                found[name] = spec
        return found

    def _load(self, module: str) -> list[DatasetSpec] | Problem:
        if module not in self._loaded:
            try:
                self._loaded[module] = specs_of(load_module(self.package, module), module)
            except ModuleProblem as error:
                self._loaded[module] = error.problem
        return self._loaded[module]


def _capture_problems(specs: dict[str, tuple[str, DatasetSpec]]) -> list[Problem]:
    """A ``realtime.capture_dataset`` must be an inference dataset the endpoint's models
    score (its ``model_dataset`` is the training dataset), or its batches would be judged
    against another model's baseline."""
    problems = []
    for name, (module, spec) in specs.items():
        realtime = getattr(spec, "realtime", None)
        captured = realtime.capture_dataset if realtime is not None else None
        if not captured:
            continue
        scored = specs.get(captured)
        if scored is None or scored[1].kind != "inference" or scored[1].model_dataset != name:
            fitting = sorted(
                other
                for other, (_, candidate) in specs.items()
                if candidate.kind == "inference" and candidate.model_dataset == name
            )
            problems.append(
                Problem(
                    module,
                    f"dataset {name!r}: realtime.capture_dataset {captured!r} is not an "
                    f"inference dataset scored by {name!r} (those are: "
                    f"{', '.join(fitting) or 'none'})",
                    dataset=name,
                )
            )
    return problems

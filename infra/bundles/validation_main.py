"""Bootstrap of the validation job's bundle (``infra.validation_bundle``).

Runs as the zip application's ``__main__``: unpacks ``site/`` to the job's work
directory (compiled modules cannot be imported from a zip), puts it first on the path
and runs the ingest function's Processing job entry point. Only the standard library is
used here: nothing else can be imported before the bundle is unpacked.
"""

import os
import sys
import zipfile
from pathlib import Path

SITE = "site/"


def unpack(bundle: Path, work: Path) -> Path:
    target = work / "bundle"
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(target, [name for name in archive.namelist() if name.startswith(SITE)])
    return target / SITE


def main() -> int:
    bundle = Path(sys.argv[0]).resolve()
    work = Path(os.environ.get("WORK_DIRECTORY", "/opt/ml/processing/work"))
    work.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(unpack(bundle, work)))
    import processing_job  # noqa: PLC0415  # importable only once unpacked

    result: int = processing_job.main()
    return result


if __name__ == "__main__":
    sys.exit(main())

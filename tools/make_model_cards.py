#!/usr/bin/env python
"""Generate the model cards' variant tables and the zoo's accuracy-vs-GFLOPs plot from this repository's data.

    python tools/make_model_cards.py                      # rewrite the tables and the plot from the caches
    python tools/make_model_cards.py --check              # exit 1 when a card differs from what this would write
    python tools/make_model_cards.py --measure            # measure every registered model, then rewrite
    python tools/make_model_cards.py --measure rmt_t rmt_s  # measure some models (kept with the others' numbers)

Each card keeps its hand-written prose; only the text between ``<!-- generated:variants -->`` and
``<!-- /generated:variants -->`` is generated. A table has one row per registered model and pretrained tag, from

* the registry: the pretrained cfgs (where the weights come from, license, input size, head);
* ``model_cards/measurements.json``: params, GFLOPs (``tools/benchmark.py``'s counter) and CPU throughput
  measured here by ``--measure`` (batch 1, one torch thread), with the machine, torch version and date;
* ``model_cards/reported.json``: what the authors report (top-1, params, FLOPs), grouped by the source that
  reports it. A number the authors do not report is shown as "—".
"""
from __future__ import annotations

import argparse
import datetime
import fnmatch
import json
import os
import platform
import re
import statistics
import sys
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import torch

import vitzoo.models  # registers the models; each family module's default_cfgs lists its models and tags
from vitzoo.hub import NO_WEIGHTS_NOTE

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchmark  # noqa: E402  (tools/benchmark.py: model creation, FLOP counter, timed runner)

ROOT = Path(__file__).resolve().parents[1]
CARDS = ROOT / "model_cards"
MEASUREMENTS = CARDS / "measurements.json"
REPORTED = CARDS / "reported.json"
PLOT = CARDS / "accuracy_vs_gflops.png"
BEGIN, END = "<!-- generated:variants -->", "<!-- /generated:variants -->"


@dataclass(frozen=True)
class Family:
    card: str  # model_cards/<card>.md
    label: str  # legend entry of the plot
    modules: tuple[str, ...]  # vitzoo.models modules whose default_cfgs list the family's models, in card order
    pattern: str = "*"  # only these of the modules' models (DVT: the denoisers alone take no images)


FAMILIES = (
    Family("swin", "Swin", ("swin",)),
    Family("tnt", "TNT / PyramidTNT", ("tnt",)),
    Family("hornet", "HorNet", ("hornet",)),
    Family("rmt", "RMT", ("rmt",)),
    Family("slab", "SLAB", ("slab_deit", "slab_pvt", "slab_swin", "slab_cswin")),
    Family("soft", "SOFT / SOFT-Norm", ("soft",)),
    Family("sret", "SReT", ("sret",)),
    Family("vit_resnas", "ViT-ResNAS", ("vit_resnas",)),
    Family("sparseformer", "SparseFormer", ("sparseformer",)),
    Family("dvt", "DVT denoiser", ("dvt",), "dvt_denoiser_*"),
)

# One torch thread: the numbers do not depend on how many cores a (shared) machine has free.
THREADS = 1
# Timed iterations per model; models above LARGE_GFLOPS get fewer (each takes seconds on one thread).
TIMED_ITERS, LARGE_TIMED_ITERS, LARGE_GFLOPS = 5, 3, 100.0
# Models whose cached params --check recounts on the meta device (cheap: no weights are allocated).
META_CHECKED = ("vz_swin_tiny_patch4_window7_224", "hornet_tiny_gf", "rmt_t", "slab_pvt_v2_b0", "sret_t")
DASH = "—"


@dataclass(frozen=True)
class Row:
    family: Family
    arch: str
    tag: str
    cfg: dict

    @property
    def name(self) -> str:
        return f"{self.arch}.{self.tag}" if self.tag else self.arch


def family_rows(family: Family) -> list[Row]:
    rows = []
    for module_name in family.modules:
        for arch, default_cfg in getattr(vitzoo.models, module_name).default_cfgs.items():
            if fnmatch.fnmatch(arch, family.pattern):
                rows += [Row(family, arch, tag, default_cfg.cfgs[tag].to_dict()) for tag in default_cfg.tags]
    return rows


def measurement_keys(rows: list[Row]) -> dict[str, dict]:
    """What to measure: each architecture (as created by name: its first tag's cfg), and each tag whose head
    differs from the first tag's.

    Returns measurement key (``arch`` or ``arch.tag``) -> ``benchmark.create`` kwargs beyond the architecture's.
    """
    keys, first_heads = {}, {}
    for row in rows:
        head = row.cfg["num_classes"]
        if row.arch not in first_heads:
            first_heads[row.arch] = head
            keys[row.arch] = {}
        elif head != first_heads[row.arch]:
            keys[row.name] = dict(num_classes=head)
    return keys


def measurement_key(row: Row, measurements: dict) -> str:
    return row.name if row.name in measurements else row.arch


# ---------------------------------------------------------------------------------------------- measuring


def model_input_shape(model: torch.nn.Module) -> tuple[int, ...]:
    """One sample's shape: the image of the model's cfg, or for a DVT denoiser the ViT features of that image."""
    image = tuple(model.pretrained_cfg["input_size"])
    if hasattr(model, "resampled_pos_embed"):  # DVTDenoiser: channels-last patch features
        patch = int(re.search(r"vit[sbl](\d+)", model.pretrained_cfg["architecture"]).group(1))
        return image[1] // patch, image[2] // patch, model.embed_dim
    return image


def count_params_m(model: torch.nn.Module) -> float:
    return sum(p.numel() for p in model.parameters()) / 1e6


def machine_name() -> str:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.M)
        cpu = found.group(1).strip() if found else cpu
    return f"{os.cpu_count()}-core CPU ({cpu})"


def measure(name: str, kwargs: dict, timed: bool) -> dict:
    """Params, GFLOPs and (when ``timed``) batch-1 single-thread CPU throughput of ``name``, via benchmark.py."""
    args = benchmark.parse_args([name, "--device", "cpu", "--batch-size", "1", "--threads", str(THREADS)])
    torch.set_num_threads(args.threads)
    # the same random weights and input on every run: SOFT-Norm's scale search, hence its FLOPs, reads the values
    torch.manual_seed(0)
    model = benchmark.create(name, kwargs, args.device).eval()
    shape = model_input_shape(model)
    result = dict(
        input=list(shape),
        params_m=round(count_params_m(model), 4),
        gflops=round(benchmark.count_gflops(model, shape, args.device), 4),  # its forward is the warm-up
    )
    if timed:
        runner = benchmark.Runner(name, model, shape, args)
        iters = TIMED_ITERS if result["gflops"] <= LARGE_GFLOPS else LARGE_TIMED_ITERS
        cpu_times = []
        for _ in range(iters):
            # the process's CPU time: on one thread it is the forward's compute, however busy the machine is
            start = time.process_time()
            runner.timed_step()
            cpu_times.append(time.process_time() - start)
        result.update(
            img_per_cpu_s=round(1 / statistics.median(cpu_times), 3),
            img_per_s=round(1 / statistics.median(runner.times), 3),  # wall clock, for reference
            timed_iters=iters,
        )
    return result


def run_measurements(names: list[str], measurements: dict) -> None:
    rows = [row for family in FAMILIES for row in family_rows(family)]
    keys = measurement_keys(rows)
    unknown = sorted(set(names) - set(keys) - {row.arch for row in rows})
    if unknown:
        raise SystemExit(f"not a model of any card: {', '.join(unknown)}; names: {', '.join(sorted(keys))}")
    wanted = [key for key in keys if not names or key in names or key.split(".")[0] in names]
    environment = dict(torch=torch.__version__, threads=THREADS, batch_size=1, dtype="float32", machine=machine_name())
    for i, key in enumerate(wanted, 1):
        print(f"[{i}/{len(wanted)}] {key}", flush=True)
        entry = dict(environment, date=datetime.date.today().isoformat(), load_avg_1min=round(os.getloadavg()[0], 2))
        try:
            # a tag's own entry only differs in its head: throughput is the architecture's
            entry.update(measure(key.split(".")[0], keys[key], timed="." not in key))
        except (RuntimeError, MemoryError) as e:
            entry["error"] = f"{type(e).__name__}: {str(e).splitlines()[0]}"
        measurements[key] = entry
        print(f"    {entry}", flush=True)
        MEASUREMENTS.write_text(json.dumps(dict(sorted(measurements.items())), indent=1) + "\n")


# --------------------------------------------------------------------------------------- reported numbers


def load_reported() -> tuple[dict[str, dict], list[dict]]:
    """model or ``model.tag`` -> the authors' numbers, each field with ``source_<field>``: its source's index."""
    data = json.loads(REPORTED.read_text())
    numbers: dict[str, dict] = {}
    for index, source in enumerate(data["sources"]):
        for name, values in source["models"].items():
            entry = numbers.setdefault(name, {})
            clash = set(entry) & set(values)
            if clash:
                raise SystemExit(f"{REPORTED}: {name} has {sorted(clash)} from two sources; keep one")
            entry.update(values, **{f"source_{field}": index for field in values})
    return numbers, data["sources"]


def reported_for(row: Row, numbers: dict, own_head: bool = False) -> dict:
    """The architecture's numbers overlaid with the tag's own.

    The architecture's params and FLOPs describe its first tag's head, so a tag with a head of its own
    (``own_head``: a 22k classifier, say) does not inherit them.
    """
    arch = numbers.get(row.arch, {})
    if own_head:
        arch = {k: v for k, v in arch.items() if k not in ("params_m", "gflops", "source_params_m", "source_gflops")}
    return {**arch, **(numbers.get(row.name, {}) if row.tag else {})}


# ------------------------------------------------------------------------------------------------ tables


def weights_source(cfg: dict) -> str:
    """Where ``pretrained=True`` gets the weights: a direct URL, a Hugging Face Hub file, or a manual page."""
    if cfg.get("url"):
        host = urllib.parse.urlparse(cfg["url"]).netloc
        label = {"github.com": "GitHub release", "cloud.tsinghua.edu.cn": "Tsinghua Cloud"}.get(host, host)
        return f"[{label}]({cfg['url']}) (direct)"
    if cfg.get("hf_hub_id"):
        return f"[HF Hub `{cfg['hf_hub_id']}`](https://huggingface.co/{cfg['hf_hub_id']}/blob/main/{cfg['hf_hub_filename']})"
    notes = " ".join(cfg.get("notes") or ())
    if NO_WEIGHTS_NOTE in notes:
        return "none released"
    pages = [page for key, page in (("Baidu", "Baidu"), ("Google Drive", "Google Drive"), ("Dropbox", "Dropbox"))
             if key in notes]
    return f"{', '.join(pages) or 'authors page'} (manual download)"


def _number(value, digits: int = 2) -> str:
    return DASH if value is None else f"{value:.{digits}f}"


def _input(measured: dict | None, cfg: dict) -> str:
    shape = measured["input"] if measured and "input" in measured else cfg["input_size"]
    if len(shape) == 3 and shape[0] != 3:  # (H, W, C) features of a DVT denoiser
        return f"{shape[0]}x{shape[1]}x{shape[2]} features"
    return str(shape[1]) if shape[1] == shape[2] else f"{shape[1]}x{shape[2]}"


def _reported_size(reported: dict) -> str:
    if "params_m" not in reported and "gflops" not in reported:
        return DASH
    params = reported.get("params_m")
    gflops = reported.get("gflops")
    return f"{DASH if params is None else f'{params:g}'} / {DASH if gflops is None else f'{gflops:g}'}"


def _source_indices(reported: dict) -> list[int]:
    return sorted({v for k, v in reported.items() if k.startswith("source_")})


def variants_table(family: Family, measurements: dict, numbers: dict, sources: list[dict]) -> str:
    rows = family_rows(family)
    keys = [measurement_key(row, measurements) for row in rows]
    reported = [reported_for(row, numbers, own_head=key != row.arch) for row, key in zip(rows, keys)]
    # the card numbers its sources [1], [2], ... in order of first use
    local = {index: n for n, index in enumerate(dict.fromkeys(i for r in reported for i in _source_indices(r)), 1)}
    lines = [
        "| model | tag | input | params (M) | GFLOPs | img/s | authors: params (M) / GFLOPs | top-1 | reported in | weights | license |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    environments = set()
    for row, key, authors in zip(rows, keys, reported):
        measured = measurements.get(key)
        speed_from = measurements.get(row.arch, {})
        if measured is None:
            params = gflops = speed = "not measured"
        elif "error" in measured:
            params = gflops = speed = f"not measured ({measured['error']})"
        else:
            params, gflops = _number(measured["params_m"]), _number(measured["gflops"])
            speed = _number(speed_from.get("img_per_cpu_s"), 1)
            environments.add((speed_from["machine"], speed_from["torch"]))
        refs = ", ".join(f"[{local[i]}]" for i in _source_indices(authors)) or DASH
        lines.append(
            f"| `{row.arch}` | {f'`{row.tag}`' if row.tag else DASH} | {_input(measured, row.cfg)} | {params} | "
            f"{gflops} | {speed} | {_reported_size(authors)} | {_number(authors.get('top1'), 1)} | "
            f"{refs} | {weights_source(row.cfg)} | {row.cfg.get('license') or 'unknown'} |"
        )
    caption = _caption(family, rows, measurements, environments)
    notes = [f"[{n}] {sources[index]['cite']}" for index, n in local.items()]
    reported_line = ("Reported numbers: " + "; ".join(notes) + ".") if notes else "The authors report no numbers for these models."
    plot = "Across the zoo: [reported top-1 against measured GFLOPs](accuracy_vs_gflops.png)."
    return "\n\n".join([caption, "\n".join(lines), reported_line, plot])


def _caption(family: Family, rows: list[Row], measurements: dict, environments: set) -> str:
    timed = {row.arch: measurements[row.arch] for row in rows if "img_per_cpu_s" in measurements.get(row.arch, {})}
    machines = "; ".join(  # torch's public version: the local part (+cu130, +cpu) names the wheel, not the code
        f"`{machine}, torch {version.split('+')[0]}`" for machine, version in sorted(environments)
    )
    text = (
        "Generated by `tools/make_model_cards.py` from the registry, `measurements.json` and `reported.json`; do not "
        "edit by hand. Params and GFLOPs: measured here for each model with its tag's head (GFLOPs are "
        "multiply-accumulates from `torch.utils.flop_counter` as `tools/benchmark.py` counts them, batch 1, at the "
        "input size shown). img/s: float32 CPU inference at batch 1 with one torch thread, once per architecture, "
        "from the process's CPU time per forward, so that other jobs on a shared machine do not slow it (wall-clock "
        "throughput is in `measurements.json` too)"
    )
    if timed:
        iters = statistics.mode(m["timed_iters"] for m in timed.values())
        others = [f"{m['timed_iters']} for `{arch}`" for arch, m in timed.items() if m["timed_iters"] != iters]
        others_text = f" ({', '.join(others)})" if others else ""
        dates = sorted({m["date"] for m in timed.values()})
        text += f": median of {iters} timed forwards after one warm-up{others_text}, on {machines}, {', '.join(dates)}"
    if family.pattern.startswith("dvt_denoiser"):
        text += ". A denoiser's input is one ViT feature map (grid x grid x width), not an image"
    return text + ". top-1: ImageNet-1k val as the authors report it for the tag's weights."


def render_card(text: str, table: str, path: Path) -> str:
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise SystemExit(f"{path}: needs one {BEGIN} ... {END} block where the variant table goes")
    head, rest = text.split(BEGIN)
    _, tail = rest.split(END)
    return f"{head}{BEGIN}\n{table}\n{END}{tail}"


# -------------------------------------------------------------------------------------------------- plot


def write_plot(measurements: dict, numbers: dict) -> None:
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 6))
    markers = "osD^v<>PXh"
    for i, family in enumerate(FAMILIES):
        points = {}  # (gflops, top1) -> uses extra data; rows of one arch with the same result plot once
        for row in family_rows(family):
            top1 = reported_for(row, numbers).get("top1")
            measured = measurements.get(measurement_key(row, measurements), {})
            if top1 is not None and "gflops" in measured:
                points[(measured["gflops"], top1)] = "22k" in row.tag
        if not points:
            continue
        colour = plt.get_cmap("tab10")(i)
        for extra_data in (False, True):
            xs = [g for (g, _), e in points.items() if e == extra_data]
            ys = [t for (_, t), e in points.items() if e == extra_data]
            if xs:
                ax.scatter(xs, ys, marker=markers[i], s=45, edgecolors=colour, linewidths=1.5,
                           facecolors="none" if extra_data else colour,
                           label=family.label + (" (22k pre-trained)" if extra_data else ""))
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:g}"))
    ax.set_xlabel("GFLOPs (multiply-accumulates, batch 1, measured by tools/benchmark.py)")
    ax.set_ylabel("ImageNet-1k top-1 (%) as reported by the authors")
    ax.set_title("vitzoo: reported accuracy against measured cost")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(PLOT, dpi=110, metadata={"Software": None})
    plt.close(fig)


# ------------------------------------------------------------------------------------------------- check


def check_params_on_meta(measurements: dict) -> list[str]:
    """Recount a few models' params on the meta device: the cache must describe the registered models."""
    import timm

    problems = []
    for name in META_CHECKED:
        with torch.device("meta"):
            params = count_params_m(timm.create_model(name))
        cached = measurements.get(name, {}).get("params_m")
        if cached is None or abs(cached - params) > 1e-4:
            problems.append(f"{name}: {params:.4f}M params now, {cached}M in {MEASUREMENTS.name}")
    return problems


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 when a card is not what the generator writes")
    mode.add_argument("--measure", nargs="*", metavar="MODEL",
                      help="measure these models (all when none are named) into measurements.json, then write")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    measurements = json.loads(MEASUREMENTS.read_text()) if MEASUREMENTS.is_file() else {}
    if args.measure is not None:
        run_measurements(args.measure, measurements)
    numbers, sources = load_reported()
    stale = []
    for family in FAMILIES:
        path = CARDS / f"{family.card}.md"
        text = path.read_text()
        card = render_card(text, variants_table(family, measurements, numbers, sources), path)
        if args.check:
            if card != text:
                stale.append(f"{path.relative_to(ROOT)} differs from the generated card")
        elif card != text:
            path.write_text(card)
            print(f"wrote {path.relative_to(ROOT)}")
    if args.check:
        stale += check_params_on_meta(measurements)
        for problem in stale:
            print(problem, file=sys.stderr)
        if stale:
            print("run: python tools/make_model_cards.py (after --measure MODELS for changed models)", file=sys.stderr)
        return 1 if stale else 0
    write_plot(measurements, numbers)
    print(f"wrote {PLOT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

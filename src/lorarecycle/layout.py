"""Names of the files in a run directory, in one place (importing this costs nothing)."""

CONFIG_FILE = "config.yaml"  # the resolved experiment, with its hash
RESULTS_FILE = "results.jsonl"  # one row per model x library x split
SAMPLES_FILE = "samples.jsonl"  # every generation
FAMILIARITY_FILE = "familiarity.jsonl"  # base-model scores of the test entities
SELF_REPLAY_FILE = "self_replay.jsonl"  # under data/: a --base-model's own text, its replay material
TIMINGS_FILE = "timings.jsonl"  # wall seconds per evaluated (model, library, split): build, generation, loglik
STAGES_FILE = "stages.json"  # the base and adapters (by content key) that the results were computed with
GRID_FILE = "grid.yaml"  # a grid's resolved spec (grid run directories only)
RUN_LOCK = ".lorarecycle.lock"  # held while a run writes here
# every name a run writes at the top of its directory: none may be a link (a resume appends)
RUN_FILES = (CONFIG_FILE, GRID_FILE, RESULTS_FILE, SAMPLES_FILE, FAMILIARITY_FILE, TIMINGS_FILE, STAGES_FILE,
             RUN_LOCK, "data", "adapters", "report.md", "report.html", "run.json")

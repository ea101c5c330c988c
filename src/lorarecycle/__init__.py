"""lorarecycle: do recycled LoRA adapters compose new abilities, or only match patterns?

Data flows one way: tasks -> model -> adapters (train) -> recycle -> evaluate -> report.
`pipeline.run_experiment` and `cli/` are the only modules that reach across stages.
"""

__version__ = "0.1.0"
